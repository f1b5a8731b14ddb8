namespace Specialized.Backends.Cpu;

/// <summary>
/// A tensor in host memory: float32 activations and KV, or bfloat16 weights kept as their raw 16 bits (half the
/// bytes to stream per token; widening to float32 is a shift).
/// </summary>
public sealed class CpuTensor : Tensor
{
    private CpuTensor(DType dtype, int[] shape, float[]? floats, ushort[]? bf16) : base(dtype, shape)
    {
        Floats = floats;
        Bf16 = bf16;
    }

    public static CpuTensor Float32(params int[] shape) => new(DType.Float32, shape, new float[Count(shape)], null);

    public static CpuTensor BFloat16(params int[] shape) => new(DType.BFloat16, shape, null, new ushort[Count(shape)]);

    public float[]? Floats { get; }

    public ushort[]? Bf16 { get; }

    public Span<float> F32 => Floats ?? throw new InvalidOperationException($"Expected a float32 tensor, got {DType}.");

    public ReadOnlySpan<ushort> B16 => Bf16 ?? throw new InvalidOperationException($"Expected a bfloat16 tensor, got {DType}.");

    /// <summary>Elements per row: the last dimension.</summary>
    public int RowLength => Shape[^1];

    public override void Dispose() { }

    private static long Count(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    internal static CpuTensor Of(Tensor tensor) =>
        tensor as CpuTensor ?? throw new ArgumentException($"The CPU backend cannot use a {tensor.GetType().Name}.");
}
