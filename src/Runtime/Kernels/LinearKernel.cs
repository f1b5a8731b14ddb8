using System.Runtime.InteropServices;
using ILGPU;

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

    public static void Run(ArrayView<Float4> x, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim)
    {
        int row = Grid.IdxX * (Group.DimX / 32) + Warp.WarpIdx;
        int t0 = Grid.IdxY * TokensPerWarp;
        if (row >= outDim) return;
        int n = tokens - t0;
        if (n > TokensPerWarp) n = TokensPerWarp;

        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        int octets = inDim / 8, xRow = inDim / 4;
        int wBase = row * octets;
        for (int j = Warp.LaneIdx; j < octets; j += 32)
        {
            Bf16x8 pack = weight[wBase + j];
            var w = new Weights8(pack);
            int k = t0 * xRow + 2 * j;
            a0 += w.Dot(x[k], x[k + 1]);
            if (n > 1) a1 += w.Dot(x[k + xRow], x[k + xRow + 1]);
            if (n > 2) a2 += w.Dot(x[k + 2 * xRow], x[k + 2 * xRow + 1]);
            if (n > 3) a3 += w.Dot(x[k + 3 * xRow], x[k + 3 * xRow + 1]);
        }
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
