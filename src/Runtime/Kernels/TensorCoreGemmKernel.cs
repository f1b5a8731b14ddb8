using ILGPU;
using ILGPU.Backends.EntryPoints;
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
/// Y[t, n] = Σ_k X[t, k]·W[n, k] (+ b[n]) on tensor cores (with <c>accumulate</c>, added to what Y holds): PTX <c>mma.sync.m16n8k16</c> on bf16 with float32
/// accumulation, through ILGPU's inline PTX. A group of 8 warps computes a 128 x 128 tile of Y, each warp a 64 x 32
/// block (4 x 4 MMA tiles of 16 x 8). The tile's 32-deep slices of X (its bf16 terms, from
/// <see cref="ActivationSplitKernel"/>) and W pass through two shared-memory stages: while the warps multiply one
/// slice, the next is loaded into registers and stored into the other stage, one barrier a slice.
/// <para>
/// <b>Each fragment is one 16-byte load, in the instruction's register order, without <c>ldmatrix</c></b> (ILGPU
/// gives a kernel no shared-memory address to pass it). The MMA sums over k, so any order of k serves if A and B agree
/// on it: this kernel lets MMA column pair p of its k16 step s be word 4(p mod 4) + 2s + p / 4 of a 16-word row slice.
/// W is staged row-major (16 words a row, unpadded), and a lane's words 4q..4q + 3 of its column g are both steps' B
/// fragments: one <c>ld.shared.v4</c>. X is staged with rows r and r + 8 interleaved, step 0's words in one half of the
/// stage and step 1's in the other, so the four registers of a step's A fragment (rows g and g + 8, pairs q and q + 4)
/// sit side by side: one <c>ld.shared.v4</c> that lands in the registers the instruction reads (from two loads, ptxas
/// spent ~1.5 moves an MMA assembling them). Both layouts let a 16-byte load phase's eight lanes read 128 contiguous
/// bytes: no bank conflicts.
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

    /// <summary>An X stage holds step 0's A fragments, then step 1's: quad (16-row block, g, q) of each half.</summary>
    private const int HalfQuads = StageQuads / 2;

    /// <summary>Quads of one 16-row block in a half: 8 x 4 lanes.</summary>
    private const int BlockQuads = 32;

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
        int tiles = Tiles(tokens, outDim), slots = GroupsPerMultiprocessor * multiprocessors;
        int splits = 1;
        if (2 * tiles <= slots && outDim % 4 == 0) splits = Math.Max(1, Math.Min(slots / tiles, slices / 2));
        int slicesPerSplit = (slices + splits - 1) / splits;
        splits = (slices + slicesPerSplit - 1) / slicesPerSplit;
        return new GemmPlan(new KernelConfig(new Index3D(columns, rows, splits), new Index3D(GroupSize, 1, 1)), splits, slicesPerSplit);
    }

    /// <summary>The output tiles of Y [tokens, outDim]: the grid's width times its height.</summary>
    public static int Tiles(int tokens, int outDim) => (outDim + TileN - 1) / TileN * ((tokens + TileM - 1) / TileM);

    /// <summary>The most floats the partial sums of a planned split take: a tile's worth per group slot.</summary>
    public static long MaxPartialFloats(int multiprocessors) => (long)GroupsPerMultiprocessor * multiprocessors * TileM * TileN;

    /// <param name="xHi">The activations' hi bf16 terms [tokens, inDim] (<see cref="ActivationSplitKernel"/>).</param>
    /// <param name="xLo">Their lo terms, read only with split activations.</param>
    /// <param name="y">Y, or with a split of K its partial sums: one [tokens, outDim] plane per grid z.</param>
    /// <param name="slicesPerSplit">The 32-deep slices of K each grid z takes (all of them without a split).</param>
    [KernelName("TensorCoreGemmKernel")]
    public static void Run<TActivations, TMma>(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, ArrayView<float> bias, int hasBias,
        int accumulate, ArrayView<float> y, int tokens, int inDim, int outDim, int slicesPerSplit, TActivations activations)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma
    {
        int terms = activations.Terms;
        // Two stages of each: 16 KB a term and 16 KB of W, 48 KB with split activations (the static limit).
        ArrayView<Words4> hiTiles = SharedMemory.Allocate<Words4>(2 * StageQuads);
        ArrayView<Words4> loTiles = SharedMemory.Allocate<Words4>(terms == 2 ? 2 * StageQuads : 1);
        ArrayView<Words4> wTiles = SharedMemory.Allocate<Words4>(2 * StageQuads);
        ArrayView<uint> exchange = Mma.Exchange<TMma>(GroupSize);
        // Shifts, not Warp.WarpIdx (a signed division): ptxas recomputes these inside the loop rather than hold them.
        int t = Group.IdxX, lane = t & 31, warp = t >> 5;
        int g = lane >> 2, q = lane & 3;
        int n0 = Grid.IdxX * TileN, m0 = Grid.IdxY * TileM;
        int kBegin = Grid.IdxZ * slicesPerSplit * Depth, kEnd = Math.Min(inDim, kBegin + slicesPerSplit * Depth);
        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;

        // Each thread stages two quads of X (per term) and two of W a slice, quad t % 4 of: X rows r and r + 8 of 16-row
        // block t / 32 (r = (t / 4) % 8), W rows t / 4 and t / 4 + 64. Rows past the edge load the last row instead:
        // an output depends only on its own X row and W row, so those feed only outputs that are never stored, and the
        // loads need no predicate and no zeroing.
        int quad = t & 3, xRow = (t >> 5) * 16 + ((t >> 2) & 7), wRow = t >> 2, stride = inDim / 8;
        int xFrom0 = Math.Min(m0 + xRow, tokens - 1) * stride + quad, xFrom1 = Math.Min(m0 + xRow + 8, tokens - 1) * stride + quad;
        int wFrom0 = Math.Min(n0 + wRow, outDim - 1) * stride + quad, wFrom1 = Math.Min(n0 + wRow + 64, outDim - 1) * stride + quad;

        // Views at the lane's words in stage 0 (stage 1 is StageQuads further), made once: every shared access in the
        // loop is then a constant offset from one of two bases.
        int aAt = ((warpRow / 16) * 8 + g) * 4 + q, bAt = (warpCol + g) * RowQuads + q;
        Stage next = Load(xHi, xLo, weight, xFrom0, xFrom1, wFrom0, wFrom1, kBegin / 8, terms);
        next.Store(hiTiles.SubView(t), loTiles.SubView(terms == 2 ? t : 0), wTiles.SubView(t), terms);
        Group.Barrier();

        WarpTile c = default;
        int stage = 0;
        // No branch on the last slice: it loads its own slice again and stages it where nobody reads any more (a
        // conditional load and store made ptxas copy the staged registers around the loop).
        for (int k0 = kBegin; k0 < kEnd; k0 += Depth)
        {
            next = Load(xHi, xLo, weight, xFrom0, xFrom1, wFrom0, wFrom1, Math.Min(k0 + Depth, kEnd - Depth) / 8, terms);
            int at = stage * StageQuads;
            c = c.Slice<TMma>(hiTiles.SubView(at + aAt), loTiles.SubView(terms == 2 ? at + aAt : 0), wTiles.SubView(at + bAt), terms, exchange);
            int other = (stage ^ 1) * StageQuads + t;
            next.Store(hiTiles.SubView(other), loTiles.SubView(terms == 2 ? other : 0), wTiles.SubView(other), terms);
            Group.Barrier();
            stage ^= 1;
        }

        int yRow = m0 + warpRow + g, yCol = n0 + warpCol + 2 * q;
        y = y.SubView(Grid.IdxZ * tokens * outDim);
        var epilogue = new Epilogue(bias, hasBias, accumulate);
        c.R0.Store(y, epilogue, yRow, yCol, tokens, outDim);
        c.R1.Store(y, epilogue, yRow + 16, yCol, tokens, outDim);
        c.R2.Store(y, epilogue, yRow + 32, yCol, tokens, outDim);
        c.R3.Store(y, epilogue, yRow + 48, yCol, tokens, outDim);
    }

    /// <summary>A warp's 64 x 32 block of Y: four rows of MMA tiles (16 rows each).</summary>
    private readonly struct WarpTile(TileRow r0, TileRow r1, TileRow r2, TileRow r3)
    {
        public readonly TileRow R0 = r0, R1 = r1, R2 = r2, R3 = r3;

        /// <summary>
        /// Adds one staged 32-deep slice. <paramref name="aHi"/>, <paramref name="aLo"/> are views at the lane's quad of
        /// its first A row (row g of the warp's block), <paramref name="b"/> at its quad of its first B column.
        /// </summary>
        public WarpTile Slice<TMma>(ArrayView<Words4> aHi, ArrayView<Words4> aLo, ArrayView<Words4> b, int terms, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            // Column g of each 8-wide tile, words 4q..4q+3: both steps' B fragments.
            Words4 b0 = b[0], b1 = b[8 * RowQuads], b2 = b[16 * RowQuads], b3 = b[24 * RowQuads];
            WarpTile c = Add<TMma>(aHi, b0, b1, b2, b3, exchange);
            return terms == 2 ? c.Add<TMma>(aLo, b0, b1, b2, b3, exchange) : c;
        }

        /// <summary>A row block's A fragment for a step: one staged quad, already in the instruction's register order.</summary>
        private static AFragment A(Words4 u) => new(u.A, u.B, u.C, u.D);

        private WarpTile Add<TMma>(ArrayView<Words4> a, Words4 b0, Words4 b1, Words4 b2, Words4 b3, ArrayView<uint> exchange)
            where TMma : struct, IMma => new(
            R0.Add<TMma>(A(a[0]), A(a[HalfQuads]), b0, b1, b2, b3, exchange),
            R1.Add<TMma>(A(a[BlockQuads]), A(a[HalfQuads + BlockQuads]), b0, b1, b2, b3, exchange),
            R2.Add<TMma>(A(a[2 * BlockQuads]), A(a[HalfQuads + 2 * BlockQuads]), b0, b1, b2, b3, exchange),
            R3.Add<TMma>(A(a[3 * BlockQuads]), A(a[HalfQuads + 3 * BlockQuads]), b0, b1, b2, b3, exchange));
    }

    /// <summary>A 16 x 32 strip of a warp's block: four MMA tiles side by side.</summary>
    private readonly struct TileRow(CFragment c0, CFragment c1, CFragment c2, CFragment c3)
    {
        public readonly CFragment C0 = c0, C1 = c1, C2 = c2, C3 = c3;

        /// <summary>
        /// Both k16 steps of a slice: <paramref name="a"/> and <paramref name="a1"/> are the A fragments of steps 0 and 1,
        /// b0..b3 words 4q..4q+3 of column g of each tile. Step s takes words 2s (column pair q) and 2s + 1 (pair q + 4).
        /// </summary>
        public TileRow Add<TMma>(AFragment a, AFragment a1, Words4 b0, Words4 b1, Words4 b2, Words4 b3, ArrayView<uint> exchange)
            where TMma : struct, IMma
        {
            TMma mma = default;
            return new TileRow(
                mma.Multiply(mma.Multiply(C0, a, new BFragment(b0.A, b0.B), exchange), a1, new BFragment(b0.C, b0.D), exchange),
                mma.Multiply(mma.Multiply(C1, a, new BFragment(b1.A, b1.B), exchange), a1, new BFragment(b1.C, b1.D), exchange),
                mma.Multiply(mma.Multiply(C2, a, new BFragment(b2.A, b2.B), exchange), a1, new BFragment(b2.C, b2.D), exchange),
                mma.Multiply(mma.Multiply(C3, a, new BFragment(b3.A, b3.B), exchange), a1, new BFragment(b3.C, b3.D), exchange));
        }

        /// <summary>Rows g and g + 8 from <paramref name="row"/>, columns 2q, 2q + 1 of each tile from <paramref name="col"/>.</summary>
        public void Store(ArrayView<float> y, Epilogue epilogue, int row, int col, int tokens, int outDim)
        {
            StoreFragment(y, epilogue, C0, row, col, tokens, outDim);
            StoreFragment(y, epilogue, C1, row, col + 8, tokens, outDim);
            StoreFragment(y, epilogue, C2, row, col + 16, tokens, outDim);
            StoreFragment(y, epilogue, C3, row, col + 24, tokens, outDim);
        }
    }

    private static Stage Load(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, int xFrom0, int xFrom1, int wFrom0, int wFrom1,
        int k, int terms)
    {
        Stage s;
        s.XHi0 = xHi[xFrom0 + k];
        s.XHi1 = xHi[xFrom1 + k];
        s.XLo0 = terms == 2 ? xLo[xFrom0 + k] : default;
        s.XLo1 = terms == 2 ? xLo[xFrom1 + k] : default;
        s.W0 = weight[wFrom0 + k];
        s.W1 = weight[wFrom1 + k];
        return s;
    }

    /// <summary>What the stores add to the sums: the bias, and with <c>Accumulate</c> what Y held (a residual add).</summary>
    private readonly struct Epilogue(ArrayView<float> bias, int hasBias, int accumulate)
    {
        public readonly ArrayView<float> Bias = bias;
        public readonly int HasBias = hasBias, Accumulate = accumulate;

        public void Store(ArrayView<float> y, int at, float sum) => y[at] = Accumulate != 0 ? y[at] + sum : sum;
    }

    // The C fragment: rows g and g + 8, columns 2q and 2q + 1 of a 16 x 8 tile.
    private static void StoreFragment(ArrayView<float> y, Epilogue e, CFragment c, int row, int col, int tokens, int outDim)
    {
        float b0 = e.HasBias != 0 && col < outDim ? e.Bias[col] : 0f;
        float b1 = e.HasBias != 0 && col + 1 < outDim ? e.Bias[col + 1] : 0f;
        if (row < tokens)
        {
            if (col < outDim) e.Store(y, row * outDim + col, c.C0 + b0);
            if (col + 1 < outDim) e.Store(y, row * outDim + col + 1, c.C1 + b1);
        }
        if (row + 8 < tokens)
        {
            if (col < outDim) e.Store(y, (row + 8) * outDim + col, c.C2 + b0);
            if (col + 1 < outDim) e.Store(y, (row + 8) * outDim + col + 1, c.C3 + b1);
        }
    }

    private static Words4 Words(Bf16x8 v) => new((uint)v.Low, (uint)(v.Low >> 32), (uint)v.High, (uint)(v.High >> 32));

    /// <summary>Step 0's A words of rows r and r + 8 (words 0 and 1 of each quad), interleaved as the A fragment wants them.</summary>
    private static Words4 Step0(Bf16x8 top, Bf16x8 bottom) => new((uint)top.Low, (uint)bottom.Low, (uint)(top.Low >> 32), (uint)(bottom.Low >> 32));

    /// <summary>Step 1's (words 2 and 3).</summary>
    private static Words4 Step1(Bf16x8 top, Bf16x8 bottom) => new((uint)top.High, (uint)bottom.High, (uint)(top.High >> 32), (uint)(bottom.High >> 32));

    /// <summary>A thread's share of one 32-deep slice, held in registers between its load and its store.</summary>
    private struct Stage
    {
        public Bf16x8 XHi0, XHi1, XLo0, XLo1, W0, W1;

        /// <summary>
        /// Stores into the thread's quads of a stage (views at quad t): of X, quad t of each half, its rows r and r + 8
        /// interleaved; of W, rows t / 4 and t / 4 + 64.
        /// </summary>
        public readonly void Store(ArrayView<Words4> xHiSlot, ArrayView<Words4> xLoSlot, ArrayView<Words4> wSlot, int terms)
        {
            xHiSlot[0] = Step0(XHi0, XHi1);
            xHiSlot[HalfQuads] = Step1(XHi0, XHi1);
            if (terms == 2)
            {
                xLoSlot[0] = Step0(XLo0, XLo1);
                xLoSlot[HalfQuads] = Step1(XLo0, XLo1);
            }
            wSlot[0] = Words(W0);
            wSlot[64 * RowQuads] = Words(W1);
        }
    }
}

/// <summary>A planned tensor-core GEMM launch: the grid (z = the parts of K) and the slices each part takes.</summary>
internal readonly record struct GemmPlan(KernelConfig Config, int Splits, int SlicesPerSplit);
