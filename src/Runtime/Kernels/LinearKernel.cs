using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>Eight bfloat16 weights: one 16-byte load.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Bf16x8
{
    public ulong Low, High;
}

/// <summary>Four floats: one 16-byte load.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Float4
{
    public float A, B, C, D;
}

/// <summary>
/// y[t, o] = Σ_k x[t, k]·W[o, k] (+ b[o]) with bfloat16 W and float32 accumulation. A warp owns one output row
/// and up to <see cref="TokensPerWarp"/> tokens, so each weight row is read once per token block; lanes stride
/// along k in 16-byte loads (eight bf16 weights, four floats of x at a time), the widest a thread can issue, so a
/// warp has 512 bytes of weights in flight per load. The GEMV shape of decode; bigger batches take the tiled GEMMs.
/// Needs inDim a multiple of 8.
/// </summary>
internal static class LinearKernel
{
    public const int TokensPerWarp = 4;

    [KernelName("LinearKernel")]
    public static void Run(ArrayView<Float4> x, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim)
    {
        int row = Grid.IdxX * (Group.DimX / 32) + Warp.WarpIdx;
        int t0 = Grid.IdxY * TokensPerWarp;
        if (row >= outDim) return;
        int n = tokens - t0;
        if (n > TokensPerWarp) n = TokensPerWarp;

        var acc = new Sums(0f, 0f, 0f, 0f);
        int octets = inDim / 8, xRow = inDim / 4;
        ArrayView<Bf16x8> w = weight.SubView(row * octets, octets);
        // Four of the lane's 16-byte weight loads are issued before any is used: a decode GEMV is otherwise a chain of
        // dependent round trips to memory (down's rows of 608 octets took 19 a lane, and a decode step's warps are too
        // few to hide them). The ones past the row are skipped, not zeroed: their activations would lie past the row too.
        for (int j = Warp.LaneIdx; j < octets; j += 128)
        {
            bool has1 = j + 32 < octets, has2 = j + 64 < octets, has3 = j + 96 < octets;
            Bf16x8 p0 = w[j], p1 = has1 ? w[j + 32] : default, p2 = has2 ? w[j + 64] : default, p3 = has3 ? w[j + 96] : default;
            int k = t0 * xRow + 2 * j;
            acc = acc.Add(new Weights8(p0), x, k, xRow, n);
            if (has1) acc = acc.Add(new Weights8(p1), x, k + 64, xRow, n);
            if (has2) acc = acc.Add(new Weights8(p2), x, k + 128, xRow, n);
            if (has3) acc = acc.Add(new Weights8(p3), x, k + 192, xRow, n);
        }
        float a0 = acc.A0, a1 = acc.A1, a2 = acc.A2, a3 = acc.A3;
        a0 = KernelMath.WarpSum(a0);
        a1 = KernelMath.WarpSum(a1);
        a2 = KernelMath.WarpSum(a2);
        a3 = KernelMath.WarpSum(a3);
        if (Warp.LaneIdx != 0) return;
        float b = hasBias != 0 ? bias[row] : 0f;
        int o = t0 * outDim + row;
        y[o] = a0 + b;
        if (n > 1) y[o + outDim] = a1 + b;
        if (n > 2) y[o + 2 * outDim] = a2 + b;
        if (n > 3) y[o + 3 * outDim] = a3 + b;
    }

    /// <summary>A lane's running sums for up to four tokens.</summary>
    private readonly struct Sums(float a0, float a1, float a2, float a3)
    {
        public readonly float A0 = a0, A1 = a1, A2 = a2, A3 = a3;

        /// <summary>
        /// Adds eight weights times each token's eight activations: <paramref name="k"/> is the Float4 index of the first
        /// of them for the warp's first token, <paramref name="xRow"/> the Float4s of a row.
        /// </summary>
        public Sums Add(Weights8 w, ArrayView<Float4> x, int k, int xRow, int n) => new(
            A0 + w.Dot(x[k], x[k + 1]),
            n > 1 ? A1 + w.Dot(x[k + xRow], x[k + xRow + 1]) : A1,
            n > 2 ? A2 + w.Dot(x[k + 2 * xRow], x[k + 2 * xRow + 1]) : A2,
            n > 3 ? A3 + w.Dot(x[k + 3 * xRow], x[k + 3 * xRow + 1]) : A3);
    }

    /// <summary>Eight weights widened to float32.</summary>
    private readonly struct Weights8(Bf16x8 pack)
    {
        private readonly float _w0 = KernelMath.Bf16((uint)(pack.Low & 0xFFFF)), _w1 = KernelMath.Bf16((uint)((pack.Low >> 16) & 0xFFFF));
        private readonly float _w2 = KernelMath.Bf16((uint)((pack.Low >> 32) & 0xFFFF)), _w3 = KernelMath.Bf16((uint)(pack.Low >> 48));
        private readonly float _w4 = KernelMath.Bf16((uint)(pack.High & 0xFFFF)), _w5 = KernelMath.Bf16((uint)((pack.High >> 16) & 0xFFFF));
        private readonly float _w6 = KernelMath.Bf16((uint)((pack.High >> 32) & 0xFFFF)), _w7 = KernelMath.Bf16((uint)(pack.High >> 48));

        public float Dot(Float4 first, Float4 second) =>
            _w0 * first.A + _w1 * first.B + _w2 * first.C + _w3 * first.D + _w4 * second.A + _w5 * second.B + _w6 * second.C + _w7 * second.D;
    }
}
