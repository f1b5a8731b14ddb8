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
/// The tile a group of a <see cref="TensorCoreGemmKernel"/> computes: <see cref="WarpRows"/> rows of warps (64 rows of
/// Y each) by <see cref="WarpColumns"/> columns of warps (64 columns each), every warp a 64 x 64 block; 4 or 8 warps.
/// </summary>
internal interface IGemmShape
{
    int WarpRows { get; }

    int WarpColumns { get; }
}

/// <summary>128 x 128 tiles: 4 warps, two groups an SM, each slice 64 FLOP per staged byte (rounded activations).</summary>
internal readonly struct SquareTiles : IGemmShape
{
    public int WarpRows => 2;

    public int WarpColumns => 2;
}

/// <summary>
/// 128 x 256 tiles: 8 warps, one group an SM; each staged slice feeds 85 FLOP a byte (rounded), a third more than a
/// square tile's. For wide outputs (gate_up's 9,728 columns are 38 tiles; 896 would leave half a tile idle).
/// </summary>
internal readonly struct WideTiles : IGemmShape
{
    public int WarpRows => 2;

    public int WarpColumns => 4;
}

/// <summary>256 x 128 tiles: 8 warps, one group an SM, as <see cref="WideTiles"/> but over tokens: for the narrow outputs (896, 1,152 columns: 7 and 9 tiles).</summary>
internal readonly struct TallTiles : IGemmShape
{
    public int WarpRows => 4;

    public int WarpColumns => 2;
}

/// <summary>The sizes that follow from a <see cref="IGemmShape"/>: the tile, the group, its shared-memory stages.</summary>
internal readonly struct GemmTiling(int warpRows, int warpColumns)
{
    public readonly int WarpRows = warpRows, WarpColumns = warpColumns;

    public static GemmTiling Of<TShape>() where TShape : struct, IGemmShape => new(default(TShape).WarpRows, default(TShape).WarpColumns);

    public int TileM => 64 * WarpRows;

    public int TileN => 64 * WarpColumns;

    public int GroupSize => 32 * WarpRows * WarpColumns;

    /// <summary>
    /// Groups an SM holds: threads of at most 255 registers (the 128 accumulators) fill half of its registers at 4
    /// warps, all of them at 8; shared memory (at most 2 x 96 or 128 KB) allows as many.
    /// </summary>
    public int GroupsPerMultiprocessor => WarpRows * WarpColumns == 4 ? 2 : 1;

    /// <summary>Chunks of one activation term's slice in a stage: TileM rows of 32 bf16.</summary>
    public int TermChunks => TileM * TensorCoreGemmKernel.RowChunks;

    /// <summary>Chunks of a stage: the activations' terms, then W's 32-deep rows of the tile's columns.</summary>
    public int StageChunks(int terms) => terms * TermChunks + TileN * TensorCoreGemmKernel.RowChunks;

    /// <summary>Dynamic shared memory a group takes, in 16-byte chunks: every stage's activation terms and W.</summary>
    public int SharedChunks(int terms) => TensorCoreGemmKernel.Stages * StageChunks(terms);

    /// <summary>The most floats the partial sums of a planned split take: a tile's worth per group slot.</summary>
    public long MaxPartialFloats(int multiprocessors) => (long)GroupsPerMultiprocessor * multiprocessors * TileM * TileN;
}

/// <summary>
/// Y[t, n] = Σ_k X[t, k]·W[n, k] (+ b[n]) on tensor cores (with <c>accumulate</c>, added to what Y holds; with
/// <c>columns</c> = <see cref="GemmColumns.SiluPairs"/>, W is the MLP's [gate | up] and Y[t, i] = silu(gate_i)·up_i, see
/// <see cref="PairedRow"/>): PTX
/// <c>mma.sync.m16n8k16</c> on bf16 with float32 accumulation, through ILGPU's inline PTX. A group of 4 warps computes
/// a 128 x 128 tile of Y (<see cref="SquareTiles"/>; 8 warps a 128 x 256 or 256 x 128 tile with <see cref="WideTiles"/>,
/// <see cref="TallTiles"/>), each warp a 64 x 64 block (4 x 8 MMA tiles of 16 x 8): per MMA, a warp then reads 128
/// bytes of fragments from shared memory (a 64 x 32 block reads 192).
/// <para>
/// <b>A pipeline of <see cref="Stages"/> shared-memory stages fed by <c>cp.async</c>.</b> The tile's 32-deep slices of
/// X (its bf16 terms, from <see cref="ActivationSplitKernel"/>) and of W are copied from global into shared memory by
/// the copy engine, without passing through registers, <see cref="Stages"/> - 1 slices ahead of the one the warps
/// multiply: one wait and one barrier a slice, and the loads' latency hides behind three slices of MMAs. The fragments
/// come out of shared memory with <c>ldmatrix.x4</c>, one instruction per A fragment of a k16 step and per 8-wide B
/// tile of a slice. A staged row is 64 bytes, four 16-byte chunks; chunk c of row r sits at position c ^ ((r / 2) % 4)
/// of its row, so the eight rows one matrix of an <c>ldmatrix</c> reads fall in eight different bank groups (unswizzled,
/// rows r and r + 2 would share one).
/// </para>
/// <para>
/// The instructions need shared-memory and global addresses that ILGPU does not give a kernel: the stages live in the
/// dynamic shared memory, whose PTX name is fixed, and the host passes the inputs' device addresses
/// (<see cref="GemmSources"/>). The warp's block and the instructions are the type parameter <see cref="IGemmTile{TSelf}"/>:
/// <see cref="PtxGemmTile"/> on CUDA, whose accumulators are named PTX registers (why: there), and off CUDA
/// <see cref="EmulatedGemmTile"/>, which performs the same copies, matrix loads and MMAs through the views, on the same layout.
/// </para>
/// <para>
/// <b>Split K.</b> A grid of fewer tiles than the card holds at once (the 896-wide projections of a decode batch: 7
/// tile columns) leaves most SMs idle while each tile walks all of K. Grid z then splits K: block z takes
/// <c>slicesPerSplit</c> slices and writes its partial sums, without bias, to its own [tokens, outDim] plane of
/// <c>y</c>, which <see cref="SplitKSumKernel"/> adds up in a fixed order (deterministic, unlike atomics).
/// <see cref="Plan"/> picks the split.
/// </para>
/// Needs inDim a multiple of 32; rows and columns may be ragged. Compiled for the groups an SM holds (<see cref="Specialization"/>):
/// ptxas then may use up to 255 registers a thread (~200-215: the 128 accumulators, 32 B-fragment registers and addresses).
/// </summary>
internal static class TensorCoreGemmKernel
{
    public const int Depth = 32;

    /// <summary>Shared-memory stages: slices in flight while one is multiplied (a power of two: the stage of slice i is i &amp; (Stages - 1)).</summary>
    public const int Stages = 4;

    /// <summary>16-byte chunks in a staged row: 32 bf16.</summary>
    internal const int RowChunks = Depth / 8;

    /// <summary>The launch bounds the kernel of this shape is compiled with (PTX <c>.maxntid</c>, <c>.minnctapersm</c>).</summary>
    public static ILGPU.Runtime.KernelSpecialization Specialization<TShape>() where TShape : struct, IGemmShape
    {
        GemmTiling tiling = GemmTiling.Of<TShape>();
        return new(tiling.GroupSize, tiling.GroupsPerMultiprocessor);
    }

    /// <summary>
    /// The launch for Y [tokens, outDim] = X [tokens, inDim] Wᵀ on a card of <paramref name="multiprocessors"/> SMs:
    /// the tile grid and, when it fills less than half of the card's group slots and outDim is whole float quads, a
    /// split of K into up to as many parts as fill them (each at least two slices). Splits = 1: the kernel writes Y.
    /// The group's dynamic shared memory is <see cref="GemmTiling.SharedChunks"/> for the activations' <paramref name="terms"/>.
    /// </summary>
    public static GemmPlan Plan(int tokens, int inDim, int outDim, int multiprocessors, int terms, GemmTiling tiling)
    {
        int columns = (outDim + tiling.TileN - 1) / tiling.TileN, rows = (tokens + tiling.TileM - 1) / tiling.TileM, slices = inDim / Depth;
        int tiles = columns * rows, slots = tiling.GroupsPerMultiprocessor * multiprocessors;
        int splits = 1;
        if (2 * tiles <= slots && outDim % 4 == 0) splits = Math.Max(1, Math.Min(slots / tiles, slices / 2));
        int slicesPerSplit = (slices + splits - 1) / splits;
        splits = (slices + slicesPerSplit - 1) / slicesPerSplit;
        var config = new KernelConfig(new Index3D(columns, rows, splits), new Index3D(tiling.GroupSize, 1, 1),
            SharedMemoryConfig.RequestDynamic<Bf16x8>(tiling.SharedChunks(terms)));
        return new GemmPlan(config, splits, slicesPerSplit);
    }

    /// <param name="xHi">The activations' hi bf16 terms [tokens, inDim] (<see cref="ActivationSplitKernel"/>).</param>
    /// <param name="xLo">Their lo terms, read only with split activations.</param>
    /// <param name="sources">The device addresses of <paramref name="xHi"/>, <paramref name="xLo"/> and <paramref name="weight"/>, for <c>cp.async</c>.</param>
    /// <param name="y">Y, or with a split of K its partial sums: one [tokens, outDim] plane per grid z.</param>
    /// <param name="slicesPerSplit">The 32-deep slices of K each grid z takes (all of them without a split).</param>
    [KernelName("TensorCoreGemmKernel")]
    public static void Run<TActivations, TTile, TShape>(ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight, GemmSources sources,
        ArrayView<float> bias, int hasBias, int accumulate, int columns, ArrayView<float> y, int tokens, int inDim, int outDim, int slicesPerSplit,
        TActivations activations)
        where TActivations : struct, IGemmActivations where TTile : struct, IGemmTile<TTile> where TShape : struct, IGemmShape
    {
        TTile c = default(TTile).Zero();
        GemmTiling tiling = GemmTiling.Of<TShape>();
        int terms = activations.Terms, warpColumns = tiling.WarpColumns, termChunks = tiling.TermChunks;
        ArrayView<Bf16x8> tiles = SharedMemory.GetDynamic<Bf16x8>();
        ArrayView<uint> exchange = SharedMemory.Allocate<uint>(c.ExchangeWords * tiling.GroupSize);
        // Shifts, not Warp.WarpIdx (a signed division): ptxas recomputes these inside the loop rather than hold them.
        int t = Group.IdxX, lane = t & 31, warp = t >> 5;
        int g = lane >> 2, q = lane & 3;
        int n0 = Grid.IdxX * tiling.TileN, m0 = Grid.IdxY * tiling.TileM;
        int kBegin = Grid.IdxZ * slicesPerSplit * Depth, kEnd = Math.Min(inDim, kBegin + slicesPerSplit * Depth);
        int slices = (kEnd - kBegin) / Depth, stageChunks = tiling.StageChunks(terms);
        int columnBits = warpColumns == 2 ? 1 : 2;
        int warpRow = (warp >> columnBits) * 64, warpCol = (warp & (warpColumns - 1)) * 64;

        // Each thread copies chunk t % 4 of rows t / 4 + p·G / 4 (p = 0..3, G the group's threads) of each operand a
        // slice, those of them within the tile: all four with 4 warps; with 8, four of the 256-row operand and two of
        // the 128-row one. Rows past the edge copy the last row instead: an output depends only on its own X row and W
        // row, so those feed only outputs that are never stored, and the copies need no predicate and no zeroing.
        int row = t >> 2, quad = t & 3, stride = inDim / 8, apart = tiling.GroupSize / 4;
        int lastX = tokens - 1, lastW = outDim - 1;
        var copy = new SliceCopy(
            Swizzled(row, quad), 4 * apart, termChunks, tiling.TileM / apart, tiling.TileN / apart,
            new Rows4(Math.Min(m0 + row, lastX), Math.Min(m0 + row + apart, lastX), Math.Min(m0 + row + 2 * apart, lastX), Math.Min(m0 + row + 3 * apart, lastX), stride, quad),
            new Rows4(WeightRow(Math.Min(n0 + row, lastW), columns, outDim), WeightRow(Math.Min(n0 + row + apart, lastW), columns, outDim),
                WeightRow(Math.Min(n0 + row + 2 * apart, lastW), columns, outDim), WeightRow(Math.Min(n0 + row + 3 * apart, lastW), columns, outDim), stride, quad));

        // The chunks this lane names to ldmatrix, in stage 0 (a stage is stageChunks further). A: row lane % 8 (+ 8 for
        // matrices 1 and 3) of the warp's first 16-row block, chunk 2s + lane / 16 of step s; the next blocks are 16 rows
        // (64 chunks) on. B: row lane % 8 of the warp's first 8-wide tile, chunk lane / 8 (matrix i = chunk i: both steps'
        // fragments); the next tiles are 8 rows on. Rows 8 apart share their swizzle.
        int aRow = warpRow + (lane & 7) + ((lane >> 3) & 1) * 8, half = lane >> 4;
        var fragments = new GemmFragmentChunks(Swizzled(aRow, half), Swizzled(aRow, 2 + half), Swizzled(warpCol + (lane & 7), lane >> 3), termChunks);

        for (int s = 0; s < Stages - 1; s++)
        {
            if (s < slices) copy.Issue(c, tiles, s * stageChunks, xHi, xLo, weight, sources, kBegin / 8 + s * RowChunks, terms);
            c.Commit();
        }
        for (int i = 0; i < slices; i++)
        {
            // Slice i's copies are done (this thread's: at most Stages - 2 newer groups in flight; everyone's: the
            // barrier), and every warp is past slice i - 1, whose stage the next copies overwrite.
            c.Wait(Stages - 2);
            Group.Barrier();
            int next = i + Stages - 1;
            if (next < slices) copy.Issue(c, tiles, (next & (Stages - 1)) * stageChunks, xHi, xLo, weight, sources, kBegin / 8 + next * RowChunks, terms);
            c.Commit();
            c = c.Add(tiles, (i & (Stages - 1)) * stageChunks, fragments, terms, exchange);
        }
        // The stages are reached only through the instructions on CUDA; this store, which never runs, keeps ILGPU from
        // dropping the dynamic shared memory (and its PTX declaration) as unused.
        if (tokens < 0) tiles[0] = default;

        int yRow = m0 + warpRow + g, yCol = n0 + warpCol + 2 * q;
        y = y.SubView(Grid.IdxZ * tokens * outDim);
        var epilogue = new Epilogue(bias, hasBias, accumulate, columns == GemmColumns.SiluPairs);
        StoreBlock(c, 0, y, epilogue, yRow, yCol, tokens, outDim);
        StoreBlock(c, 1, y, epilogue, yRow + 16, yCol, tokens, outDim);
        StoreBlock(c, 2, y, epilogue, yRow + 32, yCol, tokens, outDim);
        StoreBlock(c, 3, y, epilogue, yRow + 48, yCol, tokens, outDim);
    }

    /// <summary>
    /// Block <paramref name="block"/>'s eight tiles: rows g and g + 8 from <paramref name="row"/>, columns 2q, 2q + 1 of
    /// each from <paramref name="col"/>; with silu pairs, tiles 2p and 2p + 1 hold gate and up of the same 8 intermediate
    /// columns. Each fragment is read out of the accumulators once, whichever the epilogue.
    /// </summary>
    private static void StoreBlock<TTile>(TTile c, int block, ArrayView<float> y, Epilogue epilogue, int row, int col, int tokens, int outDim)
        where TTile : struct, IGemmTile<TTile>
    {
        StoreTiles(y, epilogue, c.Fragment(8 * block), c.Fragment(8 * block + 1), row, col, tokens, outDim);
        StoreTiles(y, epilogue, c.Fragment(8 * block + 2), c.Fragment(8 * block + 3), row, col + 16, tokens, outDim);
        StoreTiles(y, epilogue, c.Fragment(8 * block + 4), c.Fragment(8 * block + 5), row, col + 32, tokens, outDim);
        StoreTiles(y, epilogue, c.Fragment(8 * block + 6), c.Fragment(8 * block + 7), row, col + 48, tokens, outDim);
    }

    /// <summary>Two adjacent 8-wide tiles at column <paramref name="col"/> (of the paired columns, with silu pairs: intermediate column col / 2).</summary>
    private static void StoreTiles(ArrayView<float> y, Epilogue e, CFragment left, CFragment right, int row, int col, int tokens, int outDim)
    {
        if (e.SiluPairs)
        {
            StorePair(y, left, right, row, IntermediateColumn(col), tokens, outDim >> 1);
            return;
        }
        StoreFragment(y, e, left, row, col, tokens, outDim);
        StoreFragment(y, e, right, row, col + 8, tokens, outDim);
    }

    /// <summary>
    /// The W row behind column <paramref name="column"/> of Y. With paired columns, W [outDim, inDim] is
    /// the gate rows then the up rows (I = outDim / 2 each), and the columns alternate in groups of eight: column
    /// 16j + e is gate row 8j + e, column 16j + 8 + e up row 8j + e. A warp's 8-wide tiles 2p and 2p + 1 then hold
    /// gate and up of the same intermediate columns, and the epilogue multiplies them in registers instead of writing
    /// both for a pass of its own. Needs I a multiple of 8.
    /// </summary>
    public static int PairedRow(int column, int intermediate) => ((column >> 3) & 1) * intermediate + IntermediateColumn(column);

    /// <summary>The intermediate column that paired column <paramref name="column"/> (gate or up) belongs to: 16j + e and 16j + 8 + e are 8j + e.</summary>
    public static int IntermediateColumn(int column) => ((column >> 4) << 3) + (column & 7);

    /// <summary>The paired column of intermediate column <paramref name="intermediate"/>'s gate (its up is 8 further): <see cref="IntermediateColumn"/>'s inverse.</summary>
    public static int GateColumn(int intermediate) => ((intermediate >> 3) << 4) + (intermediate & 7);

    private static int WeightRow(int column, int columns, int outDim) => columns != GemmColumns.Plain ? PairedRow(column, outDim >> 1) : column;

    private static void StorePair(ArrayView<float> y, CFragment gate, CFragment up, int row, int column, int tokens, int width)
    {
        if (row < tokens)
        {
            if (column < width) y[row * width + column] = KernelMath.SiluMul(gate.C0, up.C0);
            if (column + 1 < width) y[row * width + column + 1] = KernelMath.SiluMul(gate.C1, up.C1);
        }
        if (row + 8 < tokens)
        {
            if (column < width) y[(row + 8) * width + column] = KernelMath.SiluMul(gate.C2, up.C2);
            if (column + 1 < width) y[(row + 8) * width + column + 1] = KernelMath.SiluMul(gate.C3, up.C3);
        }
    }

    /// <summary>Where chunk <paramref name="chunk"/> of staged row <paramref name="row"/> sits in its operand's slice.</summary>
    private static int Swizzled(int row, int chunk) => row * RowChunks + (chunk ^ ((row >> 1) & 3));

    /// <summary>A thread's four source rows of an operand, as the indices of its chunk at k = 0.</summary>
    private readonly struct Rows4(int r0, int r1, int r2, int r3, int stride, int quad)
    {
        public readonly int R0 = r0 * stride + quad, R1 = r1 * stride + quad, R2 = r2 * stride + quad, R3 = r3 * stride + quad;
    }

    /// <summary>
    /// A thread's copies of a slice: its chunk in the slice (rows r + p·G / 4: the same swizzle, <paramref name="apart"/>
    /// chunks apart), the chunks of an activation term's slice, how many of X's and of W's rows it copies
    /// (<paramref name="xRows"/>, <paramref name="wRows"/>: 4 or 2), and its sources' rows.
    /// </summary>
    private readonly struct SliceCopy(int to, int apart, int termChunks, int xRows, int wRows, Rows4 x, Rows4 w)
    {
        private readonly int _to = to, _apart = apart, _termChunks = termChunks, _xRows = xRows, _wRows = wRows;
        private readonly Rows4 _x = x, _w = w;

        /// <summary>Copies the slice at octet <paramref name="k"/> of K into the stage at chunk <paramref name="stage"/>.</summary>
        public void Issue<TTile>(TTile mma, ArrayView<Bf16x8> tiles, int stage, ArrayView<Bf16x8> xHi, ArrayView<Bf16x8> xLo, ArrayView<Bf16x8> weight,
            GemmSources sources, int k, int terms) where TTile : struct, IGemmTile<TTile>
        {
            int at = stage + _to;
            Operand(mma, tiles, at, xHi, sources.XHi, _x, _xRows, k);
            if (terms == 2) Operand(mma, tiles, at + _termChunks, xLo, sources.XLo, _x, _xRows, k);
            Operand(mma, tiles, at + terms * _termChunks, weight, sources.Weight, _w, _wRows, k);
        }

        private void Operand<TTile>(TTile mma, ArrayView<Bf16x8> tiles, int at, ArrayView<Bf16x8> source, long address, Rows4 rows, int count, int k)
            where TTile : struct, IGemmTile<TTile>
        {
            mma.Copy(tiles, at, source, address, rows.R0 + k);
            mma.Copy(tiles, at + _apart, source, address, rows.R1 + k);
            if (count < 4) return;
            mma.Copy(tiles, at + 2 * _apart, source, address, rows.R2 + k);
            mma.Copy(tiles, at + 3 * _apart, source, address, rows.R3 + k);
        }
    }

    /// <summary>What the stores add to the sums: the bias, and with <c>Accumulate</c> what Y held (a residual add); or, with silu pairs, how they pair.</summary>
    private readonly struct Epilogue(ArrayView<float> bias, int hasBias, int accumulate, bool siluPairs)
    {
        public readonly ArrayView<float> Bias = bias;
        public readonly int HasBias = hasBias, Accumulate = accumulate;
        public readonly bool SiluPairs = siluPairs;

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
}

/// <summary>
/// The device addresses of a tensor-core GEMM's inputs (hi and lo activation terms, weights), which its <c>cp.async</c>
/// copies read: a kernel cannot take an address from a view, the host can (<see cref="ILGPU.Runtime.ArrayViewExtensions.LoadEffectiveAddressAsPtr{T}"/>).
/// </summary>
internal readonly struct GemmSources(long xHi, long xLo, long weight)
{
    public readonly long XHi = xHi, XLo = xLo, Weight = weight;
}

/// <summary>How a tensor-core GEMM's columns map to W's rows, and what its epilogue writes.</summary>
internal static class GemmColumns
{
    /// <summary>Column n is W's row n; Y gets the sums (with bias, or added to Y).</summary>
    public const int Plain = 0;

    /// <summary>Gate and up columns paired (<see cref="TensorCoreGemmKernel.PairedRow"/>); Y [tokens, outDim / 2] gets silu(gate)·up.</summary>
    public const int SiluPairs = 1;

    /// <summary>Paired columns, their plain sums written out: a split of K's partial planes, which the split-K sum pairs.</summary>
    public const int PairedSums = 2;
}

/// <summary>A planned tensor-core GEMM launch: the grid (z = the parts of K) and the slices each part takes.</summary>
internal readonly record struct GemmPlan(KernelConfig Config, int Splits, int SlicesPerSplit);
