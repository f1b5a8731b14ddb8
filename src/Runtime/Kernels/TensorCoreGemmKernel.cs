using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>How the float32 activations enter the bf16 tensor cores.</summary>
internal interface IGemmActivations
{
    /// <summary>
    /// 2: each activation is split into two bf16 terms, hi = bf16(x) and lo = bf16(x - hi), multiplied separately:
    /// x is then carried to about 2^-17 of its size, near enough float32 that the GEMM answers like the float32
    /// kernels, for twice the tensor work. 1: x is rounded to bf16, as a bf16 model in PyTorch computes.
    /// </summary>
    int Terms { get; }
}

/// <summary>Activations carried to ~2^-17 by two bf16 terms: the engine's default, float32-faithful.</summary>
internal readonly struct SplitActivations : IGemmActivations
{
    public int Terms => 2;
}

/// <summary>Activations rounded to bf16, as PyTorch's bf16 GEMMs do.</summary>
internal readonly struct RoundedActivations : IGemmActivations
{
    public int Terms => 1;
}

/// <summary>
/// Y[t, n] = Σ_k X[t, k]·W[n, k] (+ b[n]) on tensor cores: PTX <c>mma.sync.m16n8k16</c> on bf16 with float32
/// accumulation, through ILGPU's inline PTX. A group of 8 warps computes a 64 x 128 tile of Y, each warp a 32 x 32
/// block (2 x 4 MMA tiles of 16 x 8). Each 32-deep slice of X (its bf16 terms, from <see cref="ActivationSplitKernel"/>) and W is staged in shared
/// memory in rows padded to 20 words, so the eight fragment rows a warp reads at once fall on distinct banks; the next
/// slice is loaded into registers while the tensor cores work on this one.
/// Fragment layouts are those of the PTX ISA (mma.m16n8k16, .bf16): with g = lane / 4 and q = lane % 4, A's registers
/// hold rows g and g + 8 at columns 2q, 2q + 1 (and + 8); B's hold column g at rows 2q, 2q + 1 (and + 8); C's hold rows
/// g, g + 8 at columns 2q, 2q + 1. Off CUDA (ILGPU's CPU accelerator in tests) the same instruction is computed from
/// those layouts by the warp's lanes, so the tiling is tested everywhere and only the instruction itself needs a GPU.
/// Needs inDim a multiple of 32; rows and columns may be ragged.
/// </summary>
internal static class TensorCoreGemmKernel
{
    public const int TileM = 64;
    public const int TileN = 128;
    public const int Depth = 32;
    public const int GroupSize = 256;

    /// <summary>Words (bf16 pairs) per staged row: 16 for the 32-deep slice and 4 of padding.</summary>
    private const int RowWords = Depth / 2 + 4;

    /// <summary>Registers a lane shares per emulated MMA (off CUDA only): four of A, two of B.</summary>
    private const int ExchangeWords = 6;

    /// <param name="xHi">The activations' hi bf16 terms [tokens, inDim] (<see cref="ActivationSplitKernel"/>).</param>
    /// <param name="xLo">Their lo terms, read only with split activations.</param>
    public static void Run<TActivations>(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim, TActivations activations)
        where TActivations : struct, IGemmActivations
    {
        ArrayView<uint> hiTile = SharedMemory.Allocate<uint>(TileM * RowWords);
        ArrayView<uint> loTile = SharedMemory.Allocate<uint>(TileM * RowWords);
        ArrayView<uint> ws = SharedMemory.Allocate<uint>(TileN * RowWords);
        // Used only off CUDA (emulated MMAs); where the instruction is real, nothing reads it.
        ArrayView<uint> exchange = SharedMemory.Allocate<uint>(GroupSize * ExchangeWords);
        int t = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int g = lane >> 2, q = lane & 3;
        int n0 = Grid.IdxX * TileN, m0 = Grid.IdxY * TileM;
        int warpRow = (warp >> 2) * 32, warpCol = (warp & 3) * 32;
        int terms = activations.Terms;

        // Each thread stages 8 bf16 of one X row (per term) and 16 bf16 of one W row per slice, in 16-byte loads and stores.
        int xRow = t >> 2, xCol = (t & 3) * 8;
        int wRow = t >> 1, wCol = (t & 1) * 16;
        int xFrom = m0 + xRow < tokens ? ((m0 + xRow) * inDim + xCol) / 8 : -1;
        int wFrom = n0 + wRow < outDim ? ((n0 + wRow) * inDim + wCol) / 8 : -1;

        Stage next = Load(xHi, xLo, weight, xFrom, wFrom, 0, terms);
        Fragment c00 = default, c01 = default, c02 = default, c03 = default;
        Fragment c10 = default, c11 = default, c12 = default, c13 = default;
        for (int k0 = 0; k0 < inDim; k0 += Depth)
        {
            Group.Barrier();
            next.Store(hiTile.Cast<Words4>(), loTile.Cast<Words4>(), ws.Cast<Words4>(), (xRow * RowWords + xCol / 2) / 4, (wRow * RowWords + wCol / 2) / 4,
                terms);
            Group.Barrier();
            if (k0 + Depth < inDim) next = Load(xHi, xLo, weight, xFrom, wFrom, k0 + Depth, terms);

            for (int step = 0; step < Depth / 16; step++)
            {
                int k = step * 8 + q;
                BFragment b0 = BFragment.Read(ws, (warpCol + g) * RowWords + k);
                BFragment b1 = BFragment.Read(ws, (warpCol + 8 + g) * RowWords + k);
                BFragment b2 = BFragment.Read(ws, (warpCol + 16 + g) * RowWords + k);
                BFragment b3 = BFragment.Read(ws, (warpCol + 24 + g) * RowWords + k);
                for (int term = 0; term < terms; term++)
                {
                    ArrayView<uint> xs = term == 0 ? hiTile : loTile;
                    AFragment a0 = AFragment.Read(xs, (warpRow + g) * RowWords + k);
                    AFragment a1 = AFragment.Read(xs, (warpRow + 16 + g) * RowWords + k);
                    c00 = Mma(c00, a0, b0, exchange);
                    c01 = Mma(c01, a0, b1, exchange);
                    c02 = Mma(c02, a0, b2, exchange);
                    c03 = Mma(c03, a0, b3, exchange);
                    c10 = Mma(c10, a1, b0, exchange);
                    c11 = Mma(c11, a1, b1, exchange);
                    c12 = Mma(c12, a1, b2, exchange);
                    c13 = Mma(c13, a1, b3, exchange);
                }
            }
        }

        int row = m0 + warpRow + g, col = n0 + warpCol + 2 * q;
        Store(y, bias, hasBias, c00, row, col, tokens, outDim);
        Store(y, bias, hasBias, c01, row, col + 8, tokens, outDim);
        Store(y, bias, hasBias, c02, row, col + 16, tokens, outDim);
        Store(y, bias, hasBias, c03, row, col + 24, tokens, outDim);
        Store(y, bias, hasBias, c10, row + 16, col, tokens, outDim);
        Store(y, bias, hasBias, c11, row + 16, col + 8, tokens, outDim);
        Store(y, bias, hasBias, c12, row + 16, col + 16, tokens, outDim);
        Store(y, bias, hasBias, c13, row + 16, col + 24, tokens, outDim);
    }

    private static Stage Load(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, int xFrom, int wFrom, int k0, int terms)
    {
        var s = default(Stage);
        if (xFrom >= 0)
        {
            s.XHi = xHi[xFrom + k0 / 8];
            if (terms == 2) s.XLo = xLo[xFrom + k0 / 8];
        }
        if (wFrom >= 0)
        {
            s.W0 = weight[wFrom + k0 / 8];
            s.W1 = weight[wFrom + k0 / 8 + 1];
        }
        return s;
    }

    // The C fragment: rows g and g + 8, columns 2q and 2q + 1 of a 16 x 8 tile.
    private static void Store(ArrayView<float> y, ArrayView<float> bias, int hasBias, Fragment c, int row, int col, int tokens, int outDim)
    {
        float b0 = hasBias != 0 && col < outDim ? bias[col] : 0f;
        float b1 = hasBias != 0 && col + 1 < outDim ? bias[col + 1] : 0f;
        if (row < tokens)
        {
            if (col < outDim) y[row * outDim + col] = c.C0 + b0;
            if (col + 1 < outDim) y[row * outDim + col + 1] = c.C1 + b1;
        }
        if (row + 8 < tokens)
        {
            if (col < outDim) y[(row + 8) * outDim + col] = c.C2 + b0;
            if (col + 1 < outDim) y[(row + 8) * outDim + col + 1] = c.C3 + b1;
        }
    }

    /// <summary>D = A·B + C for one 16 x 8 x 16 tile, across the warp.</summary>
    private static Fragment Mma(Fragment c, AFragment a, BFragment b, ArrayView<uint> exchange)
    {
        if (!CudaAsm.IsSupported) return EmulatedMma(c, a, b, exchange);
        Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, b0 = b.R0, b1 = b.R1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        return new Fragment(d0.Value, d1.Value, d2.Value, d3.Value);
    }

    // The instruction computed from the ISA's fragment layouts: the four lanes of a group together hold a row of A
    // (k = 2j, 2j + 1 in lane 4g + j's first registers, k + 8 in its others) and a column of B likewise. The lanes
    // swap registers through shared memory: one warp barrier, where 32 shuffles would cost the simulator far more.
    private static Fragment EmulatedMma(Fragment c, AFragment a, BFragment b, ArrayView<uint> exchange)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, q = lane & 3;
        ArrayView<uint> mine = exchange.SubView(Warp.WarpIdx * 32 * ExchangeWords, 32 * ExchangeWords);
        int at = lane * ExchangeWords;
        mine[at] = a.R0; mine[at + 1] = a.R1; mine[at + 2] = a.R2; mine[at + 3] = a.R3; mine[at + 4] = b.R0; mine[at + 5] = b.R1;
        Warp.Barrier();
        float d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        for (int j = 0; j < 4; j++)
        {
            int rows = (4 * g + j) * ExchangeWords, left = (8 * q + j) * ExchangeWords, right = (8 * q + 4 + j) * ExchangeWords;
            uint top = mine[rows], bottom = mine[rows + 1], top8 = mine[rows + 2], bottom8 = mine[rows + 3];
            uint l = mine[left + 4], l8 = mine[left + 5], r = mine[right + 4], r8 = mine[right + 5];
            d0 += Dot2(top, l) + Dot2(top8, l8);
            d1 += Dot2(top, r) + Dot2(top8, r8);
            d2 += Dot2(bottom, l) + Dot2(bottom8, l8);
            d3 += Dot2(bottom, r) + Dot2(bottom8, r8);
        }
        Warp.Barrier();
        return new Fragment(d0, d1, d2, d3);
    }

    private static float Dot2(uint a, uint b) =>
        KernelMath.Bf16(a & 0xFFFF) * KernelMath.Bf16(b & 0xFFFF) + KernelMath.Bf16(a >> 16) * KernelMath.Bf16(b >> 16);

    /// <summary>A thread's share of one 32-deep slice, held in registers between its load and its store.</summary>
    private struct Stage
    {
        public Bf16x8 XHi, XLo, W0, W1;

        /// <summary>Stores at 16-byte offsets (rows are 80 bytes, so every staged row starts 16-byte aligned).</summary>
        public readonly void Store(ArrayView<Words4> hiTile, ArrayView<Words4> loTile, ArrayView<Words4> ws, int xAt, int wAt, int terms)
        {
            hiTile[xAt] = Words4.Of(XHi);
            if (terms == 2) loTile[xAt] = Words4.Of(XLo);
            ws[wAt] = Words4.Of(W0);
            ws[wAt + 1] = Words4.Of(W1);
        }
    }

    /// <summary>Four 32-bit words: one 16-byte shared-memory store.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 16)]
    private readonly struct Words4(uint a, uint b, uint c, uint d)
    {
        public readonly uint A = a, B = b, C = c, D = d;

        public static Words4 Of(Bf16x8 v) => new((uint)v.Low, (uint)(v.Low >> 32), (uint)v.High, (uint)(v.High >> 32));
    }

    /// <summary>An A fragment: rows g, g + 8 at columns 2q.. (R0, R1) and 2q + 8.. (R2, R3).</summary>
    private readonly struct AFragment(uint r0, uint r1, uint r2, uint r3)
    {
        public readonly uint R0 = r0, R1 = r1, R2 = r2, R3 = r3;

        /// <summary>From a staged tile at the word of (row g, column pair q) of this 16-row block and k16 step.</summary>
        public static AFragment Read(ArrayView<uint> tile, int at) =>
            new(tile[at], tile[at + 8 * RowWords], tile[at + 4], tile[at + 8 * RowWords + 4]);
    }

    /// <summary>A B fragment: column g at rows 2q.. (R0) and 2q + 8.. (R1); W's rows are B's columns.</summary>
    private readonly struct BFragment(uint r0, uint r1)
    {
        public readonly uint R0 = r0, R1 = r1;

        public static BFragment Read(ArrayView<uint> tile, int at) => new(tile[at], tile[at + 4]);
    }

    /// <summary>A C/D fragment: rows g (C0, C1) and g + 8 (C2, C3) at columns 2q, 2q + 1.</summary>
    private readonly struct Fragment(float c0, float c1, float c2, float c3)
    {
        public readonly float C0 = c0, C1 = c1, C2 = c2, C3 = c3;
    }
}
