using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>
/// Y[t, n] = Σ_k X[t, k]·W[n, k] (+ b[n]) for many tokens (with <c>accumulate</c>, added to what Y holds): a
/// shared-memory tiled GEMM (float32 FMA, bf16 weights).
/// A group of 256 threads computes a 64 x 64 tile of Y, staging 32-wide slices of X and W in shared memory so each
/// value loaded from memory serves 64 multiply-adds; each thread owns a 4 x 4 block of the tile. Prefill-sized batches
/// use it; the GEMV kernel serves decode. (A tensor-core version is the next step.)
/// </summary>
internal static class GemmKernel
{
    public const int Tile = 64;
    public const int Depth = 32;
    public const int GroupSize = 256;

    [KernelName("GemmKernel")]
    public static void Run(ArrayView<float> x, ArrayView<ushort> weight, ArrayView<float> bias, int hasBias, int accumulate,
        ArrayView<float> y, int tokens, int inDim, int outDim)
    {
        ArrayView<float> xs = SharedMemory.Allocate<float>(Depth * Tile);
        ArrayView<float> ws = SharedMemory.Allocate<float>(Depth * Tile);
        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        int n0 = Grid.IdxX * Tile, m0 = Grid.IdxY * Tile;

        Quad acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int k0 = 0; k0 < inDim; k0 += Depth)
        {
            // Stage X[m0.., k0..] and W[n0.., k0..] transposed: slot [k][m] and [k][n]. Out-of-range reads are zeros.
            for (int e = t; e < Depth * Tile; e += GroupSize)
            {
                // Consecutive threads take consecutive k (coalesced global reads); the transposed shared store then
                // strides by Tile, which costs bank conflicts but keeps the compute loop's reads conflict-free.
                int row = e / Depth, k = e - row * Depth;
                int m = m0 + row, n = n0 + row, kk = k0 + k;
                xs[k * Tile + row] = m < tokens && kk < inDim ? x[m * inDim + kk] : 0f;
                ws[k * Tile + row] = n < outDim && kk < inDim ? KernelMath.Bf16(weight[n * inDim + kk]) : 0f;
            }
            Group.Barrier();
            for (int k = 0; k < Depth; k++)
            {
                // All eight shared-memory loads go out before the sixteen multiply-adds that use them.
                int xBase = k * Tile + ty * 4, wBase = k * Tile + tx * 4;
                var b = new Quad(ws[wBase], ws[wBase + 1], ws[wBase + 2], ws[wBase + 3]);
                float a0 = xs[xBase], a1 = xs[xBase + 1], a2 = xs[xBase + 2], a3 = xs[xBase + 3];
                acc0 = acc0.MultiplyAdd(a0, b);
                acc1 = acc1.MultiplyAdd(a1, b);
                acc2 = acc2.MultiplyAdd(a2, b);
                acc3 = acc3.MultiplyAdd(a3, b);
            }
            Group.Barrier();
        }

        int col = n0 + tx * 4;
        Quad bias4 = default;
        if (hasBias != 0)
        {
            bias4 = new Quad(col < outDim ? bias[col] : 0f, col + 1 < outDim ? bias[col + 1] : 0f,
                col + 2 < outDim ? bias[col + 2] : 0f, col + 3 < outDim ? bias[col + 3] : 0f);
        }
        Store(y, m0 + ty * 4, col, acc0, bias4, accumulate, tokens, outDim);
        Store(y, m0 + ty * 4 + 1, col, acc1, bias4, accumulate, tokens, outDim);
        Store(y, m0 + ty * 4 + 2, col, acc2, bias4, accumulate, tokens, outDim);
        Store(y, m0 + ty * 4 + 3, col, acc3, bias4, accumulate, tokens, outDim);
    }

    /// <summary>A thread's four outputs of one row: sums plus bias, added to what Y holds with <paramref name="accumulate"/>.</summary>
    private static void Store(ArrayView<float> y, int row, int col, Quad acc, Quad bias, int accumulate, int tokens, int outDim)
    {
        if (row >= tokens) return;
        int at = row * outDim + col;
        if (col < outDim) y[at] = (accumulate != 0 ? y[at] : 0f) + (acc.A + bias.A);
        if (col + 1 < outDim) y[at + 1] = (accumulate != 0 ? y[at + 1] : 0f) + (acc.B + bias.B);
        if (col + 2 < outDim) y[at + 2] = (accumulate != 0 ? y[at + 2] : 0f) + (acc.C + bias.C);
        if (col + 3 < outDim) y[at + 3] = (accumulate != 0 ? y[at + 3] : 0f) + (acc.D + bias.D);
    }

    /// <summary>Four floats held in registers: one thread's row of its 4 x 4 block.</summary>
    private readonly struct Quad(float a, float b, float c, float d)
    {
        public readonly float A = a, B = b, C = c, D = d;

        public Quad MultiplyAdd(float s, Quad v) => new(A + s * v.A, B + s * v.B, C + s * v.C, D + s * v.D);
    }
}
