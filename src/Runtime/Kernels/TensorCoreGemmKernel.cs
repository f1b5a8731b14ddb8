using ILGPU;

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
/// slice is loaded into registers while the tensor cores work on this one. The instruction, its fragment layouts and
/// its emulation off CUDA are in <see cref="IMma"/>. Needs inDim a multiple of 32; rows and columns may be ragged.
/// </summary>
internal static class TensorCoreGemmKernel
{
    public const int TileM = 64;
    public const int TileN = 128;
    public const int Depth = 32;
    public const int GroupSize = 256;

    /// <summary>Words (bf16 pairs) per staged row: 16 for the 32-deep slice and 4 of padding.</summary>
    private const int RowWords = Depth / 2 + 4;

    /// <param name="xHi">The activations' hi bf16 terms [tokens, inDim] (<see cref="ActivationSplitKernel"/>).</param>
    /// <param name="xLo">Their lo terms, read only with split activations.</param>
    public static void Run<TActivations, TMma>(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim, TActivations activations)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma
    {
        ArrayView<uint> hiTile = SharedMemory.Allocate<uint>(TileM * RowWords);
        ArrayView<uint> loTile = SharedMemory.Allocate<uint>(TileM * RowWords);
        ArrayView<uint> ws = SharedMemory.Allocate<uint>(TileN * RowWords);
        // Used only by the emulated MMA; with the real instruction nothing reads it (and ptxas drops it).
        ArrayView<uint> exchange = SharedMemory.Allocate<uint>(GroupSize * Mma.ExchangeWords);
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

        // The tiles are restaged in place every slice, so each lane's fragments and staging slots sit at the same words
        // of shared memory in every slice: views at those words, made once, leave every fragment load a constant offset
        // (no address arithmetic in the loop; the instruction count per MMA, not the tensor cores, bounded the kernel).
        ArrayView<uint> aHi = hiTile.SubView((warpRow + g) * RowWords + q), aLo = loTile.SubView((warpRow + g) * RowWords + q);
        ArrayView<uint> b = ws.SubView((warpCol + g) * RowWords + q);
        int xAt = (xRow * RowWords + xCol / 2) / 4, wAt = (wRow * RowWords + wCol / 2) / 4;
        ArrayView<Words4> xHiSlot = hiTile.Cast<Words4>().SubView(xAt), xLoSlot = loTile.Cast<Words4>().SubView(xAt);
        ArrayView<Words4> wSlot = ws.Cast<Words4>().SubView(wAt);

        Stage next = Load(xHi, xLo, weight, xFrom, wFrom, 0, terms);
        WarpTile c = default;
        for (int k0 = 0; k0 < inDim; k0 += Depth)
        {
            Group.Barrier();
            next.Store(xHiSlot, xLoSlot, wSlot, terms);
            Group.Barrier();
            if (k0 + Depth < inDim) next = Load(xHi, xLo, weight, xFrom, wFrom, k0 + Depth, terms);

            // The slice's two k16 steps (words 0-7 and 8-15 of a row), written out: ILGPU keeps loops as loops.
            c = c.Step<TMma>(aHi, aLo, b, 0, terms, exchange);
            c = c.Step<TMma>(aHi, aLo, b, 8, terms, exchange);
        }

        int row = m0 + warpRow + g, col = n0 + warpCol + 2 * q;
        Store(y, bias, hasBias, c.C00, row, col, tokens, outDim);
        Store(y, bias, hasBias, c.C01, row, col + 8, tokens, outDim);
        Store(y, bias, hasBias, c.C02, row, col + 16, tokens, outDim);
        Store(y, bias, hasBias, c.C03, row, col + 24, tokens, outDim);
        Store(y, bias, hasBias, c.C10, row + 16, col, tokens, outDim);
        Store(y, bias, hasBias, c.C11, row + 16, col + 8, tokens, outDim);
        Store(y, bias, hasBias, c.C12, row + 16, col + 16, tokens, outDim);
        Store(y, bias, hasBias, c.C13, row + 16, col + 24, tokens, outDim);
    }

    /// <summary>A warp's 32 x 32 block of Y: 2 x 4 MMA tiles of 16 x 8 (Crc: rows 16r.., columns 8c..).</summary>
    private readonly struct WarpTile(CFragment c00, CFragment c01, CFragment c02, CFragment c03,
        CFragment c10, CFragment c11, CFragment c12, CFragment c13)
    {
        public readonly CFragment C00 = c00, C01 = c01, C02 = c02, C03 = c03, C10 = c10, C11 = c11, C12 = c12, C13 = c13;

        /// <summary>
        /// Adds one k16 step: <paramref name="aHi"/>, <paramref name="aLo"/> and <paramref name="b"/> are the lane's views at
        /// its fragment words of the staged X terms and W tiles, <paramref name="k"/> the step's first word (a constant).
        /// The B fragments serve both terms.
        /// </summary>
        public WarpTile Step<TMma>(ArrayView<uint> aHi, ArrayView<uint> aLo, ArrayView<uint> b, int k, int terms, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            BFragment b0 = BFragment.Read(b, k), b1 = BFragment.Read(b, 8 * RowWords + k);
            BFragment b2 = BFragment.Read(b, 16 * RowWords + k), b3 = BFragment.Read(b, 24 * RowWords + k);
            WarpTile c = Add<TMma>(AFragment.Read(aHi, k, RowWords), AFragment.Read(aHi, 16 * RowWords + k, RowWords), b0, b1, b2, b3, exchange);
            return terms == 2
                ? c.Add<TMma>(AFragment.Read(aLo, k, RowWords), AFragment.Read(aLo, 16 * RowWords + k, RowWords), b0, b1, b2, b3, exchange)
                : c;
        }

        private WarpTile Add<TMma>(AFragment a0, AFragment a1, BFragment b0, BFragment b1, BFragment b2, BFragment b3, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            TMma mma = default;
            return new WarpTile(
                mma.Multiply(C00, a0, b0, exchange), mma.Multiply(C01, a0, b1, exchange),
                mma.Multiply(C02, a0, b2, exchange), mma.Multiply(C03, a0, b3, exchange),
                mma.Multiply(C10, a1, b0, exchange), mma.Multiply(C11, a1, b1, exchange),
                mma.Multiply(C12, a1, b2, exchange), mma.Multiply(C13, a1, b3, exchange));
        }
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
    private static void Store(ArrayView<float> y, ArrayView<float> bias, int hasBias, CFragment c, int row, int col, int tokens, int outDim)
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

    private static Words4 Words(Bf16x8 v) => new((uint)v.Low, (uint)(v.Low >> 32), (uint)v.High, (uint)(v.High >> 32));

    /// <summary>A thread's share of one 32-deep slice, held in registers between its load and its store.</summary>
    private struct Stage
    {
        public Bf16x8 XHi, XLo, W0, W1;

        /// <summary>Stores into the thread's 16-byte slots (rows are 80 bytes, so every staged row starts 16-byte aligned).</summary>
        public readonly void Store(ArrayView<Words4> xHiSlot, ArrayView<Words4> xLoSlot, ArrayView<Words4> wSlot, int terms)
        {
            xHiSlot[0] = Words(XHi);
            if (terms == 2) xLoSlot[0] = Words(XLo);
            wSlot[0] = Words(W0);
            wSlot[1] = Words(W1);
        }
    }
}
