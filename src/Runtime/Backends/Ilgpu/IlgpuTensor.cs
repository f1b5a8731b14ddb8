using ILGPU;
using ILGPU.Runtime;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// A tensor in an ILGPU accelerator's memory: float32 activations and vectors, or bfloat16 matrices stored as their
/// 16 bits (viewed as 64-bit words, four elements each, by the GEMV kernel).
/// </summary>
public sealed class IlgpuTensor : Tensor
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? _floats;
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense>? _bf16;

    private IlgpuTensor(DType dtype, int[] shape, MemoryBuffer1D<float, Stride1D.Dense>? floats, MemoryBuffer1D<ushort, Stride1D.Dense>? bf16)
        : base(dtype, shape)
    {
        _floats = floats;
        _bf16 = bf16;
    }

    public static IlgpuTensor Float32(Accelerator accelerator, int[] shape) =>
        new(DType.Float32, shape, accelerator.Allocate1D<float>(Count(shape)), null);

    public static IlgpuTensor BFloat16(Accelerator accelerator, int[] shape) =>
        new(DType.BFloat16, shape, null, accelerator.Allocate1D<ushort>(Count(shape)));

    public ArrayView<float> F32 => _floats?.View ?? throw new InvalidOperationException($"Expected a float32 tensor, got {DType}.");

    public ArrayView<ushort> B16 => _bf16?.View ?? throw new InvalidOperationException($"Expected a bfloat16 tensor, got {DType}.");

    /// <summary>The bf16 elements eight at a time (16 bytes): the GEMV's and the tensor-core GEMM's loads.</summary>
    internal ArrayView<Specialized.Kernels.Bf16x8> B16Octets => B16.Cast<Specialized.Kernels.Bf16x8>();

    public int RowLength => Shape[^1];

    public override void Dispose()
    {
        _floats?.Dispose();
        _bf16?.Dispose();
    }

    internal static IlgpuTensor Of(Tensor tensor) =>
        tensor as IlgpuTensor ?? throw new ArgumentException($"The ILGPU backend cannot use a {tensor.GetType().Name}.");

    private static long Count(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
