using ILGPU;

namespace Specialized.Kernels;

/// <summary>
/// Turns float32 activations into the bf16 terms the tensor-core GEMM multiplies: hi = bf16(x) and, with split
/// activations, lo = bf16(x - hi). Done once per GEMM input in its own pass (a few microseconds for a prefill chunk)
/// rather than inside the GEMM, where every tile column repeated the conversion of the same rows and the GEMM's
/// staging loop carried ~80 conversion instructions a thread per 32-deep slice. A thread takes eight activations:
/// two 16-byte loads, one 16-byte store per term.
/// </summary>
internal static class ActivationSplitKernel
{
    public static void Run<TActivations>(ArrayView<Float4> x, ArrayView<Bf16x8> hi, ArrayView<Bf16x8> lo, int octets, TActivations activations)
        where TActivations : struct, IGemmActivations
    {
        int i = Grid.GlobalIndex.X;
        if (i >= octets) return;
        Float4 a = x[2 * i], b = x[2 * i + 1];
        uint h0 = Mma.ToBf16(a.A), h1 = Mma.ToBf16(a.B), h2 = Mma.ToBf16(a.C), h3 = Mma.ToBf16(a.D);
        uint h4 = Mma.ToBf16(b.A), h5 = Mma.ToBf16(b.B), h6 = Mma.ToBf16(b.C), h7 = Mma.ToBf16(b.D);
        hi[i] = Pack(h0, h1, h2, h3, h4, h5, h6, h7);
        if (activations.Terms == 2)
        {
            lo[i] = Pack(Lo(a.A, h0), Lo(a.B, h1), Lo(a.C, h2), Lo(a.D, h3), Lo(b.A, h4), Lo(b.B, h5), Lo(b.C, h6), Lo(b.D, h7));
        }
    }

    private static Bf16x8 Pack(uint e0, uint e1, uint e2, uint e3, uint e4, uint e5, uint e6, uint e7) => new()
    {
        Low = e0 | ((ulong)e1 << 16) | ((ulong)e2 << 32) | ((ulong)e3 << 48),
        High = e4 | ((ulong)e5 << 16) | ((ulong)e6 << 32) | ((ulong)e7 << 48),
    };

    /// <summary>The bf16 of what the hi term leaves of <paramref name="v"/>.</summary>
    private static uint Lo(float v, uint hi) => Mma.ToBf16(v - KernelMath.Bf16(hi));
}
