namespace Specialized.Backends;

/// <summary>Element types of tensors the engine stores.</summary>
public enum DType
{
    BFloat16,
    Float16,
    Float32,
    Int32,
}

/// <summary>A tensor that lives on a backend (host memory for the CPU backend, device memory for CUDA).</summary>
public abstract class Tensor : IDisposable
{
    protected Tensor(DType dtype, int[] shape)
    {
        DType = dtype;
        Shape = shape;
        ElementCount = shape.Aggregate(1L, (a, b) => a * b);
    }

    public DType DType { get; }

    public IReadOnlyList<int> Shape { get; }

    public long ElementCount { get; }

    public abstract void Dispose();
}
