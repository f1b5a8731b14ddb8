using ILGPU;
using ILGPU.Runtime;

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
/// accumulation, through ILGPU's inline PTX. A group of 8 warps computes a 128 x 128 tile of Y, each warp a 64 x 32
/// block (4 x 4 MMA tiles of 16 x 8). The tile's 32-deep slices of X (its bf16 terms, from
/// <see cref="ActivationSplitKernel"/>) and W pass through two shared-memory stages: while the warps multiply one
/// slice, the next is loaded into registers and stored into the other stage, one barrier a slice.
/// <para>
/// <b>The fragments are read 8 bytes at a time, without <c>ldmatrix</c></b> (ILGPU gives a kernel no shared-memory
/// address to pass it). The MMA sums over k, so any order of k serves if A and B agree on it: this kernel lets MMA
/// column pair p of its k16 step s be word 4(p mod 4) + 2s + p / 4 of the staged 16-word row. A lane (g, q) then finds
/// both words a step needs of each of its A rows and B columns side by side (words 4q + 2s, 4q + 2s + 1): one
/// <c>ld.shared.v2</c> where the ISA's own order needs two 32-bit loads. Rows are 16 words unpadded; the 16 lanes of
/// an 8-byte load phase read four rows, and rows 2 and 3 (mod 4) are staged with the halves of each 16-byte quad
/// swapped, so their step-s words fall on the banks that rows 0 and 1 leave free: no bank conflicts.
/// <para>
/// A step issues its 16 MMAs (4 x 4 tiles) for the hi term, then 16 for the lo term: an MMA's accumulator was last
/// written 16 MMAs earlier, so a warp, which issues in order, never waits on the tensor core's latency.
/// </para>
/// </para>
/// <para>
/// <b>Split K.</b> A grid of fewer tiles than the card holds at once (the 896-wide projections of a decode batch: 7
/// tile columns) leaves most SMs idle while each tile walks all of K. Grid z then splits K: block z takes
/// <c>slicesPerSplit</c> slices and writes its partial sums, without bias, to its own [tokens, outDim] plane of
/// <c>y</c>, which <see cref="SplitKSumKernel"/> adds up in a fixed order (deterministic, unlike atomics).
/// <see cref="Plan"/> picks the split.
/// </para>
/// The instruction, its fragment layouts and its emulation off CUDA are in <see cref="IMma"/>. Needs inDim a multiple
/// of 32; rows and columns may be ragged. Compiled for two groups an SM (<see cref="Specialization"/>): ptxas then
/// keeps it to 128 registers a thread.
/// </summary>
internal static class TensorCoreGemmKernel
{
    public const int TileM = 128;
    public const int TileN = 128;
    public const int Depth = 32;
    public const int GroupSize = 256;

    /// <summary>16-byte quads in a staged row: 32 bf16.</summary>
    private const int RowQuads = Depth / 8;

    /// <summary>Quads in one stage of a term or of W: 128 rows.</summary>
    private const int StageQuads = TileM * RowQuads;

    /// <summary>Groups an SM holds: 256 threads of at most 128 registers, 2 x 49 KB of shared memory.</summary>
    public const int GroupsPerMultiprocessor = 2;

    /// <summary>The launch bounds the kernel is compiled with (PTX <c>.maxntid</c>, <c>.minnctapersm</c>).</summary>
    public static ILGPU.Runtime.KernelSpecialization Specialization => new(GroupSize, GroupsPerMultiprocessor);

    /// <summary>
    /// The launch for Y [tokens, outDim] = X [tokens, inDim] Wᵀ on a card of <paramref name="multiprocessors"/> SMs:
    /// the tile grid and, when it fills less than half of the card's group slots and outDim is whole float quads, a
    /// split of K into up to as many parts as fill them (each at least two slices). Splits = 1: the kernel writes Y.
    /// </summary>
    public static GemmPlan Plan(int tokens, int inDim, int outDim, int multiprocessors)
    {
        int columns = (outDim + TileN - 1) / TileN, rows = (tokens + TileM - 1) / TileM, slices = inDim / Depth;
        int tiles = columns * rows, slots = GroupsPerMultiprocessor * multiprocessors;
        int splits = 1;
        if (2 * tiles <= slots && outDim % 4 == 0) splits = Math.Max(1, Math.Min(slots / tiles, slices / 2));
        int slicesPerSplit = (slices + splits - 1) / splits;
        splits = (slices + slicesPerSplit - 1) / slicesPerSplit;
        return new GemmPlan(new KernelConfig(new Index3D(columns, rows, splits), new Index3D(GroupSize, 1, 1)), splits, slicesPerSplit);
    }

    /// <summary>The most floats the partial sums of a planned split take: a tile's worth per group slot.</summary>
    public static long MaxPartialFloats(int multiprocessors) => (long)GroupsPerMultiprocessor * multiprocessors * TileM * TileN;

    /// <param name="xHi">The activations' hi bf16 terms [tokens, inDim] (<see cref="ActivationSplitKernel"/>).</param>
    /// <param name="xLo">Their lo terms, read only with split activations.</param>
    /// <param name="y">Y, or with a split of K its partial sums: one [tokens, outDim] plane per grid z.</param>
    /// <param name="slicesPerSplit">The 32-deep slices of K each grid z takes (all of them without a split).</param>
    public static void Run<TActivations, TMma>(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        ArrayView<float> y, int tokens, int inDim, int outDim, int slicesPerSplit, TActivations activations)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma
    {
        int terms = activations.Terms;
        // Two stages of each: 16 KB a term and 16 KB of W, 48 KB with split activations (the static limit).
        ArrayView<Words4> hiTiles = SharedMemory.Allocate<Words4>(2 * StageQuads);
        ArrayView<Words4> loTiles = SharedMemory.Allocate<Words4>(terms == 2 ? 2 * StageQuads : 1);
        ArrayView<Words4> wTiles = SharedMemory.Allocate<Words4>(2 * StageQuads);
        ArrayView<uint> exchange = Mma.Exchange<TMma>(GroupSize);
        int t = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int g = lane >> 2, q = lane & 3;
        int n0 = Grid.IdxX * TileN, m0 = Grid.IdxY * TileM;
        int kBegin = Grid.IdxZ * slicesPerSplit * Depth, kEnd = Math.Min(inDim, kBegin + slicesPerSplit * Depth);
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;

        // Each thread stages two quads of X (per term) and two of W a slice: rows t / 4 and t / 4 + 64, quad t % 4.
        int row = t >> 2, quad = t & 3;
        int xFrom0 = m0 + row < tokens ? (m0 + row) * (inDim / 8) + quad : -1;
        int xFrom1 = m0 + row + 64 < tokens ? (m0 + row + 64) * (inDim / 8) + quad : -1;
        int wFrom0 = n0 + row < outDim ? (n0 + row) * (inDim / 8) + quad : -1;
        int wFrom1 = n0 + row + 64 < outDim ? (n0 + row + 64) * (inDim / 8) + quad : -1;

        // Views at the lane's step-0 and step-1 words in stage 0 (stage 1 is 2 * StageQuads pairs further), made once:
        // every shared access in the loop is then a constant offset from one of a few bases.
        int swap = (g >> 1) & 1;
        int aAt = ((warpRow + g) * RowQuads + q) * 2, bAt = ((warpCol + g) * RowQuads + q) * 2;
        ArrayView<Words2> hiPairs = hiTiles.Cast<Words2>(), loPairs = loTiles.Cast<Words2>(), wPairs = wTiles.Cast<Words2>();
        bool swapStaged = ((row >> 1) & 1) != 0;
        Stage next = Load(xHi, xLo, weight, xFrom0, xFrom1, wFrom0, wFrom1, kBegin / 8, terms);
        next.Store(hiTiles.SubView(t), loTiles.SubView(terms == 2 ? t : 0), wTiles.SubView(t), terms, swapStaged);
        Group.Barrier();

        WarpTile c = default;
        int stage = 0;
        for (int k0 = kBegin; k0 < kEnd; k0 += Depth)
        {
            bool more = k0 + Depth < kEnd;
            if (more) next = Load(xHi, xLo, weight, xFrom0, xFrom1, wFrom0, wFrom1, (k0 + Depth) / 8, terms);
            int at = stage * 2 * StageQuads;
            int a0 = at + aAt + swap, a1 = at + aAt + (swap ^ 1), b0 = at + bAt + swap, b1 = at + bAt + (swap ^ 1);
            c = c.Step<TMma>(hiPairs.SubView(a0), loPairs.SubView(terms == 2 ? a0 : 0), wPairs.SubView(b0), terms, exchange);
            c = c.Step<TMma>(hiPairs.SubView(a1), loPairs.SubView(terms == 2 ? a1 : 0), wPairs.SubView(b1), terms, exchange);
            if (more)
            {
                int other = (stage ^ 1) * StageQuads + t;
                next.Store(hiTiles.SubView(other), loTiles.SubView(terms == 2 ? other : 0), wTiles.SubView(other), terms, swapStaged);
            }
            Group.Barrier();
            stage ^= 1;
        }

        int yRow = m0 + warpRow + g, yCol = n0 + warpCol + 2 * q;
        y = y.SubView(Grid.IdxZ * tokens * outDim);
        c.R0.Store(y, bias, hasBias, yRow, yCol, tokens, outDim);
        c.R1.Store(y, bias, hasBias, yRow + 16, yCol, tokens, outDim);
        c.R2.Store(y, bias, hasBias, yRow + 32, yCol, tokens, outDim);
        c.R3.Store(y, bias, hasBias, yRow + 48, yCol, tokens, outDim);
    }

    /// <summary>A warp's 64 x 32 block of Y: four rows of MMA tiles (16 rows each).</summary>
    private readonly struct WarpTile(TileRow r0, TileRow r1, TileRow r2, TileRow r3)
    {
        public readonly TileRow R0 = r0, R1 = r1, R2 = r2, R3 = r3;

        /// <summary>Pairs (8-byte units) from one staged row to the next.</summary>
        private const int RowPairs = 2 * RowQuads;

        /// <summary>
        /// Adds one k16 step. <paramref name="aHi"/>, <paramref name="aLo"/> are views at the lane's word pair for this step
        /// in its first A row (row g of the warp's block), <paramref name="b"/> at its pair in its first B column.
        /// </summary>
        public WarpTile Step<TMma>(ArrayView<Words2> aHi, ArrayView<Words2> aLo, ArrayView<Words2> b, int terms, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            // Column g of each 8-wide tile: the step's B fragment (pair q, pair q + 4), shared by both terms.
            BFragment b0 = B(b[0]), b1 = B(b[8 * RowPairs]), b2 = B(b[16 * RowPairs]), b3 = B(b[24 * RowPairs]);
            WarpTile c = Add<TMma>(aHi, b0, b1, b2, b3, exchange);
            return terms == 2 ? c.Add<TMma>(aLo, b0, b1, b2, b3, exchange) : c;
        }

        private static BFragment B(Words2 pair) => new(pair.A, pair.B);

        /// <summary>Rows g and g + 8 of a 16-row block: the A fragment (pair q of each row, then pair q + 4).</summary>
        private static AFragment A(Words2 top, Words2 bottom) => new(top.A, bottom.A, top.B, bottom.B);

        private WarpTile Add<TMma>(ArrayView<Words2> a, BFragment b0, BFragment b1, BFragment b2, BFragment b3, ArrayView<uint> exchange)
            where TMma : struct, IMma => new(
            R0.Add<TMma>(A(a[0], a[8 * RowPairs]), b0, b1, b2, b3, exchange),
            R1.Add<TMma>(A(a[16 * RowPairs], a[24 * RowPairs]), b0, b1, b2, b3, exchange),
            R2.Add<TMma>(A(a[32 * RowPairs], a[40 * RowPairs]), b0, b1, b2, b3, exchange),
            R3.Add<TMma>(A(a[48 * RowPairs], a[56 * RowPairs]), b0, b1, b2, b3, exchange));
    }

    /// <summary>A 16 x 32 strip of a warp's block: four MMA tiles side by side.</summary>
    private readonly struct TileRow(CFragment c0, CFragment c1, CFragment c2, CFragment c3)
    {
        public readonly CFragment C0 = c0, C1 = c1, C2 = c2, C3 = c3;

        public TileRow Add<TMma>(AFragment a, BFragment b0, BFragment b1, BFragment b2, BFragment b3, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            TMma mma = default;
            return new TileRow(mma.Multiply(C0, a, b0, exchange), mma.Multiply(C1, a, b1, exchange),
                mma.Multiply(C2, a, b2, exchange), mma.Multiply(C3, a, b3, exchange));
        }

        /// <summary>Rows g and g + 8 from <paramref name="row"/>, columns 2q, 2q + 1 of each tile from <paramref name="col"/>.</summary>
        public void Store(ArrayView<float> y, ArrayView<float> bias, int hasBias, int row, int col, int tokens, int outDim)
        {
            StoreFragment(y, bias, hasBias, C0, row, col, tokens, outDim);
            StoreFragment(y, bias, hasBias, C1, row, col + 8, tokens, outDim);
            StoreFragment(y, bias, hasBias, C2, row, col + 16, tokens, outDim);
            StoreFragment(y, bias, hasBias, C3, row, col + 24, tokens, outDim);
        }
    }

    private static Stage Load(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, int xFrom0, int xFrom1, int wFrom0, int wFrom1,
        int k, int terms)
    {
        var s = default(Stage);
        if (xFrom0 >= 0)
        {
            s.XHi0 = xHi[xFrom0 + k];
            if (terms == 2) s.XLo0 = xLo[xFrom0 + k];
        }
        if (xFrom1 >= 0)
        {
            s.XHi1 = xHi[xFrom1 + k];
            if (terms == 2) s.XLo1 = xLo[xFrom1 + k];
        }
        if (wFrom0 >= 0) s.W0 = weight[wFrom0 + k];
        if (wFrom1 >= 0) s.W1 = weight[wFrom1 + k];
        return s;
    }

    // The C fragment: rows g and g + 8, columns 2q and 2q + 1 of a 16 x 8 tile.
    private static void StoreFragment(ArrayView<float> y, ArrayView<float> bias, int hasBias, CFragment c, int row, int col, int tokens, int outDim)
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

    /// <summary>Eight bf16 as stored: in order, or for rows 2 and 3 (mod 4) with the two 8-byte halves swapped.</summary>
    private static Words4 Words(Bf16x8 v, bool swapHalves) => swapHalves
        ? new((uint)v.High, (uint)(v.High >> 32), (uint)v.Low, (uint)(v.Low >> 32))
        : new((uint)v.Low, (uint)(v.Low >> 32), (uint)v.High, (uint)(v.High >> 32));

    /// <summary>A thread's share of one 32-deep slice, held in registers between its load and its store.</summary>
    private struct Stage
    {
        public Bf16x8 XHi0, XHi1, XLo0, XLo1, W0, W1;

        /// <summary>
        /// Stores into the thread's quads of a stage: rows t / 4 and t / 4 + 64 (views at row t / 4's quad), halves
        /// swapped on rows 2 and 3 (mod 4).
        /// </summary>
        public readonly void Store(ArrayView<Words4> xHiSlot, ArrayView<Words4> xLoSlot, ArrayView<Words4> wSlot, int terms, bool swapHalves)
        {
            xHiSlot[0] = Words(XHi0, swapHalves);
            xHiSlot[64 * RowQuads] = Words(XHi1, swapHalves);
            if (terms == 2)
            {
                xLoSlot[0] = Words(XLo0, swapHalves);
                xLoSlot[64 * RowQuads] = Words(XLo1, swapHalves);
            }
            wSlot[0] = Words(W0, swapHalves);
            wSlot[64 * RowQuads] = Words(W1, swapHalves);
        }
    }
}

/// <summary>A planned tensor-core GEMM launch: the grid (z = the parts of K) and the slices each part takes.</summary>
internal readonly record struct GemmPlan(KernelConfig Config, int Splits, int SlicesPerSplit);
