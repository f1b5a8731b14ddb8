using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>
/// Turns float32 activations into the bf16 terms the tensor-core GEMM multiplies: hi = bf16(x) and, with split
/// activations, lo = bf16(x - hi). Done once per GEMM input in its own pass (a few microseconds for a prefill chunk)
/// rather than inside the GEMM, where every tile column repeated the conversion of the same rows and the GEMM's
/// staging loop carried ~80 conversion instructions a thread per 32-deep slice. A thread takes eight activations:
/// two 16-byte loads, four <see cref="Bf16Split"/>s (one <c>cvt.rn.bf16x2</c> a pair and term on CUDA), one 16-byte
/// store per term.
/// </summary>
internal static class ActivationSplitKernel
{
    [KernelName("ActivationSplitKernel")]
    public static void Run<TActivations, TMma>(ArrayView<Float4> x, ArrayView<Bf16x8> hi, ArrayView<Bf16x8> lo, int octets, TActivations activations)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma
    {
        int i = Grid.GlobalIndex.X;
        if (i >= octets) return;
        Float4 a = x[2 * i], b = x[2 * i + 1];
        Bf16Split s0 = Bf16Split.Of<TMma>(a.A, a.B), s1 = Bf16Split.Of<TMma>(a.C, a.D), s2 = Bf16Split.Of<TMma>(b.A, b.B), s3 = Bf16Split.Of<TMma>(b.C, b.D);
        hi[i] = Octet(s0.Hi, s1.Hi, s2.Hi, s3.Hi);
        if (activations.Terms == 2) lo[i] = Octet(s0.Lo, s1.Lo, s2.Lo, s3.Lo);
    }

    /// <summary>
    /// The same terms of x · norm / rms(x), row by row: the RMSNorm before a projection, fused into its split. A group a
    /// row (gathering the row's sum of squares, then writing its terms); the normalized value is computed in Hugging
    /// Face's order (x · inv_rms, then · norm) before it is split.
    /// </summary>
    [KernelName("NormedActivationSplitKernel")]
    public static void RunNormed<TActivations, TMma>(ArrayView<Float4> x, ArrayView<Float4> norm, ArrayView<Bf16x8> hi, ArrayView<Bf16x8> lo, int inDim,
        float eps, TActivations activations)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma
    {
        int octets = inDim / 8, first = Grid.IdxX * octets;
        float squares = 0f;
        for (int i = Group.IdxX; i < octets; i += Group.DimX)
        {
            Float4 a = x[2 * (first + i)], b = x[2 * (first + i) + 1];
            squares += a.A * a.A + a.B * a.B + a.C * a.C + a.D * a.D + b.A * b.A + b.B * b.B + b.C * b.C + b.D * b.D;
        }
        float inv = XMath.Rsqrt(KernelMath.GroupSum(squares) / inDim + eps);
        for (int i = Group.IdxX; i < octets; i += Group.DimX)
        {
            Float4 a = x[2 * (first + i)], b = x[2 * (first + i) + 1], na = norm[2 * i], nb = norm[2 * i + 1];
            Bf16Split s0 = Bf16Split.Of<TMma>(a.A * inv * na.A, a.B * inv * na.B), s1 = Bf16Split.Of<TMma>(a.C * inv * na.C, a.D * inv * na.D);
            Bf16Split s2 = Bf16Split.Of<TMma>(b.A * inv * nb.A, b.B * inv * nb.B), s3 = Bf16Split.Of<TMma>(b.C * inv * nb.C, b.D * inv * nb.D);
            hi[first + i] = Octet(s0.Hi, s1.Hi, s2.Hi, s3.Hi);
            if (activations.Terms == 2) lo[first + i] = Octet(s0.Lo, s1.Lo, s2.Lo, s3.Lo);
        }
    }

    /// <summary>Four packed bf16 pairs, in order, as one 16-byte store.</summary>
    private static Bf16x8 Octet(uint p0, uint p1, uint p2, uint p3) => new() { Low = p0 | ((ulong)p1 << 32), High = p2 | ((ulong)p3 << 32) };
}
