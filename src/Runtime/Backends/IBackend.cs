using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Backends;

/// <summary>
/// Where a model runs: it owns memory (weights, activations, KV cache) and the kernels. The model runner talks to
/// it; the generated model only sees the kernels.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>"cpu" or "cuda", as <c>--device</c> names it.</summary>
    string Name { get; }

    /// <summary>A human description of the device, for logs and benchmark tables.</summary>
    string Device { get; }

    /// <summary>Device memory in bytes for a GPU; null for the host, whose memory the engine does not size itself by.</summary>
    long? MemoryBytes { get; }

    /// <summary>
    /// Creates the backend's copy of a weight with the parameter's shape. The backend picks the element type
    /// (<paramref name="preferred"/> is the checkpoint's, for matrices) and calls back to fill it.
    /// </summary>
    Tensor CreateWeight(Parameter parameter, DType preferred, IWeightSource source);

    /// <summary>A float32 activation tensor [rows, columns].</summary>
    Tensor CreateActivations(int rows, int columns);

    /// <summary>
    /// The kernels for a model of <typeparamref name="TDims"/>, with a KV cache and buffers sized by the options;
    /// <paramref name="progress"/> hears when compilation and allocation start.
    /// </summary>
    IQwen2Kernels<TDims> CreateKernels<TDims>(TDims dims, RunnerOptions options, IProgress<EngineLoadProgress>? progress = null) where TDims : struct, IQwen2Dims;

    /// <summary>Copies the first <paramref name="rows"/> rows of a float32 tensor to the host.</summary>
    void CopyRows(Tensor source, int rows, Span<float> destination);

    /// <summary>The index of the largest value of each of the first rows (lowest index on ties), computed where the tensor lives.</summary>
    void ArgMaxRows(Tensor source, int rows, Span<int> destination);
}

/// <summary>Writes one parameter's elements, stacked from the checkpoint's tensors, in the form a backend asks for.</summary>
public interface IWeightSource
{
    void WriteBFloat16(Span<ushort> destination);

    void WriteFloat32(Span<float> destination);

    /// <summary>
    /// The parameter's bytes as the checkpoint stores them, when they already are <paramref name="dtype"/> and in one
    /// piece (one tensor of under 2 GiB, memory-mapped), so a backend can copy them to its device without a host
    /// buffer of its own; otherwise false, and the Write methods convert.
    /// </summary>
    bool TryGetStored(DType dtype, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        return false;
    }
}
