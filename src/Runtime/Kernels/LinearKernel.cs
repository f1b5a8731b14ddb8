using ILGPU;

namespace Specialized.Kernels;

/// <summary>
/// y[t, o] = Σ_k x[t, k]·W[o, k] (+ b[o]) with bfloat16 W and float32 accumulation. A warp owns one output row
/// and up to <see cref="TokensPerWarp"/> tokens, so each weight row is read once per token block; lanes stride
/// along k in 64-bit loads of four bf16. The GEMV shape of decode; prefill-sized batches get a tensor-core GEMM later.
/// </summary>
internal static class LinearKernel
{
    public const int TokensPerWarp = 4;

    public static void Run(ArrayView<float> x, ArrayView<ulong> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim)
    {
        int row = Grid.IdxX * (Group.DimX / 32) + Warp.WarpIdx;
        int t0 = Grid.IdxY * TokensPerWarp;
        if (row >= outDim) return;
        int n = tokens - t0;
        if (n > TokensPerWarp) n = TokensPerWarp;

        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        int quads = inDim / 4;
        int wBase = row * quads;
        for (int j = Warp.LaneIdx; j < quads; j += 32)
        {
            ulong pack = weight[wBase + j];
            float w0 = KernelMath.Bf16((uint)(pack & 0xFFFF));
            float w1 = KernelMath.Bf16((uint)((pack >> 16) & 0xFFFF));
            float w2 = KernelMath.Bf16((uint)((pack >> 32) & 0xFFFF));
            float w3 = KernelMath.Bf16((uint)(pack >> 48));
            int k = t0 * inDim + j * 4;
            a0 += w0 * x[k] + w1 * x[k + 1] + w2 * x[k + 2] + w3 * x[k + 3];
            if (n > 1)
            {
                k += inDim;
                a1 += w0 * x[k] + w1 * x[k + 1] + w2 * x[k + 2] + w3 * x[k + 3];
            }
            if (n > 2)
            {
                k += inDim;
                a2 += w0 * x[k] + w1 * x[k + 1] + w2 * x[k + 2] + w3 * x[k + 3];
            }
            if (n > 3)
            {
                k += inDim;
                a3 += w0 * x[k] + w1 * x[k + 1] + w2 * x[k + 2] + w3 * x[k + 3];
            }
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
}
