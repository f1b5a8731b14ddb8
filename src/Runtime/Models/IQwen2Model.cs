using Specialized.Backends;
using Specialized.Weights;

namespace Specialized.Models;

/// <summary>
/// A Qwen2 model with its dimensions fixed by <typeparamref name="TDims"/>: the generated code of a specialized
/// build implements it. It owns its weight tree and runs one forward step; it knows nothing of requests.
/// </summary>
public interface IQwen2Model<TDims> where TDims : struct, IQwen2Dims
{
    TDims Dims { get; }

    ModelSpec Spec { get; }

    IWeightTree Weights { get; }

    void Forward(IQwen2Kernels<TDims> kernels, Qwen2Workspace workspace, ForwardBatch batch);
}

/// <summary>Receives a model with its dims type known, so generic code can be instantiated for it.</summary>
public interface IModelVisitor<out TResult>
{
    TResult Visit<TDims>(IQwen2Model<TDims> model) where TDims : struct, IQwen2Dims;
}

/// <summary>A specialized model compiled into some assembly, as the registry lists it.</summary>
public abstract class ModelDescriptor
{
    /// <summary>The generated type's name, e.g. <c>Qwen2_5_0_5B_Instruct</c>.</summary>
    public abstract string Name { get; }

    public abstract ModelSpec Spec { get; }

    public string Fingerprint => Spec.Fingerprint;

    /// <summary>Creates a fresh model (with an unbound weight tree) and hands it to the visitor.</summary>
    public abstract TResult Accept<TResult>(IModelVisitor<TResult> visitor);

    public override string ToString() => Name;
}
