using Specialized.Backends;

namespace Specialized.Weights;

/// <summary>A tensor as the checkpoint names it: its Hugging Face name and shape.</summary>
public sealed record HfTensor(string Name, int[] Shape)
{
    public override string ToString() => $"{Name} {ShapeText.Format(Shape)}";
}

/// <summary>
/// One weight of a model: a name, a shape, and the checkpoint tensors it is made of. Most parameters are one
/// HF tensor; fused ones (q/k/v -> qkv_proj, gate/up -> gate_up_proj) stack several along their first dimension,
/// as SGLang's loaders do. The backend's copy is bound by the weight loader.
/// </summary>
public sealed class Parameter
{
    private Tensor? _value;

    /// <summary>A parameter that is exactly one checkpoint tensor.</summary>
    public Parameter(string name, int[] shape) : this(name, shape, [new HfTensor(name, shape)]) { }

    /// <summary>A parameter stacked from <paramref name="sources"/> along dimension 0.</summary>
    public Parameter(string name, int[] shape, HfTensor[] sources)
    {
        if (sources.Length == 0) throw new ArgumentException("A parameter needs at least one source tensor.", nameof(sources));
        int rows = 0;
        foreach (HfTensor s in sources)
        {
            if (s.Shape.Length != shape.Length || !s.Shape.AsSpan(1).SequenceEqual(shape.AsSpan(1)))
            {
                throw new ArgumentException($"{s} cannot be stacked into {name} {ShapeText.Format(shape)}.", nameof(sources));
            }
            rows += s.Shape[0];
        }
        if (rows != shape[0]) throw new ArgumentException($"The sources of {name} stack to {rows} rows, not {shape[0]}.", nameof(sources));
        Name = name;
        Shape = shape;
        Sources = sources;
    }

    public string Name { get; }

    public IReadOnlyList<int> Shape { get; }

    public IReadOnlyList<HfTensor> Sources { get; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public bool IsBound => _value is not null;

    /// <summary>The backend's copy of the weight.</summary>
    public Tensor Value => _value ?? throw new InvalidOperationException($"The weight {Name} is not loaded.");

    /// <summary>Attaches the backend's copy, after checking that its shape is this parameter's.</summary>
    public void Bind(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!tensor.Shape.SequenceEqual(Shape))
        {
            throw new ArgumentException($"{Name} is {ShapeText.Format(Shape)} but the tensor bound to it is {ShapeText.Format(tensor.Shape)}.");
        }
        _value = tensor;
    }

    public override string ToString() => $"{Name} {ShapeText.Format(Shape)}";
}

/// <summary>The parameters of a model, each once, in checkpoint order.</summary>
public interface IWeightTree
{
    IReadOnlyList<Parameter> Parameters { get; }
}

internal static class ShapeText
{
    public static string Format(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";
}
