using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Causal attention with grouped KV heads over the paged cache on tensor cores (<see cref="IMma"/>), for steps whose
/// sequences bring blocks of many tokens (prefill chunks); <see cref="ExtendAttentionKernel"/> serves decode steps. The
/// computation, masks and key splitting are that kernel's; only the products change.
/// <para>
/// A group of 4 warps per (block of one sequence's consecutive tokens, KV head, key range). The block's query rows are
/// (token, query head of the KV head) pairs, row r being token first + r / G under head kvHead·G + r % G, at most
/// <see cref="Rows"/> = 64 of them (<see cref="TokensPerBlock"/> tokens: 9 for Qwen2.5-0.5B's G = 7, 63 rows); each warp
/// owns one 16-row MMA tile. A warp keeps its rows' queries (scaled by 1/√d) in registers as A fragments for the whole
/// loop, so shared memory only holds the current 32-key tile of K and V. Per tile, each warp computes S = Q·Kᵀ (16 x 32)
/// as four C fragments, masks them (key ≤ the row's position, ≥ the window's first key, inside the key range), folds
/// them into an online softmax (a row's 32 scores lie in the four lanes of a quad: two shuffles for its max), and adds
/// P·V into its 16 x d output fragments. The C fragments of S for keys 16s..16s+15 are, element for element, the A
/// fragment of P for that k-step (the flash-attention register trick), so P never goes through shared memory.
/// </para>
/// <para>
/// float32 faithfulness: every operand is split into two bf16 terms, x = hi + lo (hi = bf16(x), lo = bf16(x − hi)),
/// which carry it to ~2^-17 of itself, and each product takes three MMAs, hi·hi + hi·lo + lo·hi (lo·lo is ~2^-18 of
/// the product, below the terms' own rounding); accumulation is float32. So scores and outputs agree with the float32
/// kernels to ~1e-5 relative, where a bf16-only kernel would be off by ~1e-2. From a bf16 cache (TKv =
/// <see cref="Bf16Kv"/>) K and V are exact bf16 operands: nothing of their lo terms is staged, and a product takes two
/// MMAs (hi·hi + lo·hi).
/// </para>
/// <para>
/// Staging: K is stored as it comes ([key][d], bf16 pairs along d, rows padded to d/2 + 4 words so the 8 keys × 4 words
/// a fragment load touches fall on 32 distinct banks); V transposed ([d][key], pairs of consecutive keys, rows of
/// 16 + 4 words) because B's registers pair two consecutive k (keys) of one column (d). Each thread converts a pair of
/// keys times four consecutive elements (16-byte loads); a warp covers 8 key pairs times 4 consecutive quads, so each
/// key row is read 64 contiguous bytes at a time. The KV pages of the next tile are looked up while the current one is staged (two slot buffers), so
/// a tile costs two barriers. A warp skips the products of a tile none of its rows can see (causal diagonal, window).
/// </para>
/// <para>
/// Budget: a lane holds its queries (d/2 words), its output (d/2 floats) and a tile's scores (16 floats): ~100
/// registers at d = 64, ~170 at d = 128 (no launch bound caps them). Shared memory is sized for d = 128 (41 KB with
/// the emulation's exchange scratch, which CUDA never touches), so registers, not shared memory, bound the groups an
/// SM holds. The groups take the blocks in reverse (a sequence's later blocks see the most keys) so the longest ones
/// start first when the grid runs in several waves.
/// </para>
/// Splitting the keys (grid.Z &gt; 1) leaves each row's max, sum and unnormalized output in <c>partials</c> for
/// <see cref="AttentionCombineKernel"/>, with <see cref="Rows"/> rows a group.
/// </summary>
internal static class TensorCoreAttentionKernel
{
    /// <summary>Query rows per group: 16 per warp.</summary>
    public const int Rows = 64;

    public const int GroupSize = 128;

    public const int TileKeys = 32;

    public const int MaxHeadDim = 128;

    /// <summary>Floats of one row's partial state, as <see cref="ExtendAttentionKernel"/> lays it out.</summary>
    public const int PartialSize = ExtendAttentionKernel.PartialSize;

    /// <summary>Words per staged K row at the largest head: d/2 pairs and 4 of padding.</summary>
    private const int MaxKeyRowWords = MaxHeadDim / 2 + 4;

    /// <summary>Words per staged Vᵀ row: 16 key pairs and 4 of padding (20 words: the 8 × 4 fragment loads hit 32 banks).</summary>
    private const int ValueRowWords = TileKeys / 2 + 4;

    /// <summary>Whether the kernel serves a model: heads of whole k16 steps, and a KV head's query heads within 64 rows.</summary>
    public static bool Supports(IQwen2Dims dims) =>
        dims.HeadDim % 16 == 0 && dims.HeadDim <= MaxHeadDim && dims.GroupSize <= Rows;

    /// <summary>A sequence's tokens per block: as many as fit their query rows in <see cref="Rows"/>.</summary>
    public static int TokensPerBlock(int queryHeadsPerKvHead) => Rows / queryHeadsPerKvHead;

    /// <summary>
    /// One group per (block, KV head, key range): <paramref name="blocks"/> holds (first token, token count) pairs of
    /// at most <see cref="TokensPerBlock"/> tokens; the grid is (block count, KV heads, key ranges), groups of
    /// <see cref="GroupSize"/>. The parameters are <see cref="ExtendAttentionKernel.Run{TDims}"/>'s.
    /// </summary>
    [KernelName("TensorCoreAttentionKernel")]
    public static void Run<TDims, TMma, TKv>(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<int> positions, ArrayView<int> tokenSequence, ArrayView<int> pageTable, ArrayView<int> pageOffsets,
        ArrayView<int> blocks, ArrayView<float> partials, int splitKeys, int pageSize, int window, TDims dims)
        where TDims : struct, IQwen2Dims where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        TKv cache = default;
        ArrayView<uint> kHi = SharedMemory.Allocate<uint>(TileKeys * MaxKeyRowWords);
        // A bf16 cache's elements are exact bf16 terms: no lo terms to stage.
        ArrayView<uint> kLo = SharedMemory.Allocate<uint>(cache.IsBf16 ? 0 : TileKeys * MaxKeyRowWords);
        ArrayView<uint> vHi = SharedMemory.Allocate<uint>(MaxHeadDim * ValueRowWords);
        ArrayView<uint> vLo = SharedMemory.Allocate<uint>(cache.IsBf16 ? 0 : MaxHeadDim * ValueRowWords);
        ArrayView<int> slots = SharedMemory.Allocate<int>(2 * TileKeys);
        // The emulated MMA's scratch: none with the real instruction.
        ArrayView<uint> exchange = Mma.Exchange<TMma>(GroupSize);

        // Blocks in reverse: a sequence's later blocks see more keys, and starting them first keeps the long groups
        // off the end of the grid when it runs in several waves.
        int block = Grid.DimX - 1 - Grid.IdxX;
        int first = blocks[2 * block], count = blocks[2 * block + 1];
        int kvHead = Grid.IdxY;
        int g = dims.GroupSize, d = dims.HeadDim;
        int rows = count * g;
        int t = Group.IdxX, lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int fg = lane >> 2, fq = lane & 3;   // the lane's fragment row (and row + 8) and column pair
        int steps = d / 16, tiles = d / 8;   // k16 steps of a head; n8 tiles of the output
        int keyRowWords = d / 2 + 4;

        int pages = pageOffsets[tokenSequence[first]];
        int split = Grid.IdxZ, splits = Grid.DimZ;
        // This group's keys: start .. lastKey, cut to its range when the keys are split.
        int lastKey = positions[first + count - 1];
        int start = window > 0 ? XMath.Max(0, positions[first] - window + 1) : 0;
        if (splits > 1)
        {
            start = XMath.Max(start, split * splitKeys);
            lastKey = XMath.Min(lastKey, (split + 1) * splitKeys - 1);
        }

        // The lane's two rows, and the keys the warp's rows see at the least and at the most (positions rise along the block).
        int top = warp * 16 + fg, bottom = top + 8;
        RowKeys topKeys = RowKeys.Of(top, rows, g, first, positions, window, lastKey);
        RowKeys bottomKeys = RowKeys.Of(bottom, rows, g, first, positions, window, lastKey);
        int warpLast = XMath.Min(warp * 16 + 15, rows - 1);
        int warpLow = RowKeys.Of(warp * 16, rows, g, first, positions, window, lastKey).Low;
        int warpHigh = warp * 16 < rows ? RowKeys.Of(warpLast, rows, g, first, positions, window, lastKey).High : -1;

        int topQuery = top < rows ? (first + top / g) * dims.QkvSize + (kvHead * g + top % g) * d : -1;
        int bottomQuery = bottom < rows ? (first + bottom / g) * dims.QkvSize + (kvHead * g + bottom % g) * d : -1;
        Queries queries = Queries.Load<TMma>(qkv, topQuery, bottomQuery, XMath.Rsqrt(d), fq, steps);

        int kvSize = dims.KvSize, kvBase = kvHead * d, quads = d / 4;
        if (t < TileKeys) slots[t] = Slot(start + t, lastKey, pages, pageTable, pageSize);
        Group.Barrier();

        float maxTop = float.NegativeInfinity, maxBottom = float.NegativeInfinity, sumTop = 0f, sumBottom = 0f;
        Accumulator o = default;
        int current = 0;
        for (int tile = start; tile <= lastKey; tile += TileKeys)
        {
            // Stage the tile as bf16 terms; warp 0 looks up the next tile's slots meanwhile.
            for (int e = t; e < (TileKeys / 2) * quads; e += GroupSize)
            {
                int rest = e >> 3, quad = rest % quads, pair = ((rest / quads) << 3) | (e & 7);
                int j = 2 * pair, i = 4 * quad;
                int s0 = slots[current + j], s1 = slots[current + j + 1];
                int at0 = s0 * kvSize + kvBase + i, at1 = s1 * kvSize + kvBase + i;
                Float4 k0 = s0 >= 0 ? cache.Load4(keys, at0) : default, k1 = s1 >= 0 ? cache.Load4(keys, at1) : default;
                Float4 v0 = s0 >= 0 ? cache.Load4(values, at0) : default, v1 = s1 >= 0 ? cache.Load4(values, at1) : default;
                StoreKey<TMma, TKv>(kHi, kLo, j * keyRowWords + i / 2, k0);
                StoreKey<TMma, TKv>(kHi, kLo, (j + 1) * keyRowWords + i / 2, k1);
                StoreValues<TMma, TKv>(vHi, vLo, i * ValueRowWords + pair, v0, v1);
            }
            if (t < TileKeys) slots[(TileKeys - current) + t] = Slot(tile + TileKeys + t, lastKey, pages, pageTable, pageSize);
            Group.Barrier();

            // The same for every lane of the warp: whether any of its rows sees a key of the tile.
            if (tile <= warpHigh && tile + TileKeys - 1 >= warpLow)
            {
                int kAt = fg * keyRowWords + fq;
                CFragment s0 = Score<TMma, TKv>(queries, kHi, kLo, kAt, steps, exchange);
                CFragment s1 = Score<TMma, TKv>(queries, kHi, kLo, kAt + 8 * keyRowWords, steps, exchange);
                CFragment s2 = Score<TMma, TKv>(queries, kHi, kLo, kAt + 16 * keyRowWords, steps, exchange);
                CFragment s3 = Score<TMma, TKv>(queries, kHi, kLo, kAt + 24 * keyRowWords, steps, exchange);
                int key = tile + 2 * fq;
                s0 = Mask(s0, key, topKeys, bottomKeys);
                s1 = Mask(s1, key + 8, topKeys, bottomKeys);
                s2 = Mask(s2, key + 16, topKeys, bottomKeys);
                s3 = Mask(s3, key + 24, topKeys, bottomKeys);

                // Online softmax of each row: the tile's max over the quad; a row that has seen nothing yet keeps
                // -inf as its max and measures from 0, so that no -inf - -inf appears.
                float tileTop = XMath.Max(XMath.Max(XMath.Max(s0.C0, s0.C1), XMath.Max(s1.C0, s1.C1)),
                    XMath.Max(XMath.Max(s2.C0, s2.C1), XMath.Max(s3.C0, s3.C1)));
                float tileBottom = XMath.Max(XMath.Max(XMath.Max(s0.C2, s0.C3), XMath.Max(s1.C2, s1.C3)),
                    XMath.Max(XMath.Max(s2.C2, s2.C3), XMath.Max(s3.C2, s3.C3)));
                tileTop = XMath.Max(tileTop, Warp.ShuffleXor(tileTop, 1));
                tileTop = XMath.Max(tileTop, Warp.ShuffleXor(tileTop, 2));
                tileBottom = XMath.Max(tileBottom, Warp.ShuffleXor(tileBottom, 1));
                tileBottom = XMath.Max(tileBottom, Warp.ShuffleXor(tileBottom, 2));
                float nextTop = XMath.Max(maxTop, tileTop), nextBottom = XMath.Max(maxBottom, tileBottom);
                float fromTop = nextTop == float.NegativeInfinity ? 0f : nextTop;
                float fromBottom = nextBottom == float.NegativeInfinity ? 0f : nextBottom;
                float correctionTop = XMath.Exp(maxTop - fromTop), correctionBottom = XMath.Exp(maxBottom - fromBottom);
                maxTop = nextTop;
                maxBottom = nextBottom;

                // Masked scores are -inf: their probabilities are 0.
                s0 = Exponentials(s0, fromTop, fromBottom);
                s1 = Exponentials(s1, fromTop, fromBottom);
                s2 = Exponentials(s2, fromTop, fromBottom);
                s3 = Exponentials(s3, fromTop, fromBottom);
                // Each lane sums its own columns; the quad's sums are added once, at the end.
                sumTop = sumTop * correctionTop + ((s0.C0 + s0.C1) + (s1.C0 + s1.C1)) + ((s2.C0 + s2.C1) + (s3.C0 + s3.C1));
                sumBottom = sumBottom * correctionBottom + ((s0.C2 + s0.C3) + (s1.C2 + s1.C3)) + ((s2.C2 + s2.C3) + (s3.C2 + s3.C3));

                o = o.Scale(correctionTop, correctionBottom, tiles);
                o = o.Add<TMma, TKv>(Probabilities<TMma>(s0, s1), Probabilities<TMma>(s2, s3), vHi, vLo, fg * ValueRowWords + fq, tiles, exchange);
            }
            Group.Barrier();   // the tile is consumed
            current = TileKeys - current;
        }

        sumTop += Warp.ShuffleXor(sumTop, 1);
        sumTop += Warp.ShuffleXor(sumTop, 2);
        sumBottom += Warp.ShuffleXor(sumBottom, 1);
        sumBottom += Warp.ShuffleXor(sumBottom, 2);
        if (splits == 1)
        {
            int topOut = top < rows ? (first + top / g) * dims.QSize + (kvHead * g + top % g) * d : -1;
            int bottomOut = bottom < rows ? (first + bottom / g) * dims.QSize + (kvHead * g + bottom % g) * d : -1;
            o.Store(output, topOut, bottomOut, 1f / sumTop, 1f / sumBottom, fq, tiles);
        }
        else
        {
            int group = (block * Grid.DimY + kvHead) * splits + split;
            int topAt = top < rows ? (group * Rows + top) * PartialSize : -1;
            int bottomAt = bottom < rows ? (group * Rows + bottom) * PartialSize : -1;
            if (fq == 0 && topAt >= 0)
            {
                partials[topAt] = maxTop;
                partials[topAt + 1] = sumTop;
            }
            if (fq == 0 && bottomAt >= 0)
            {
                partials[bottomAt] = maxBottom;
                partials[bottomAt + 1] = sumBottom;
            }
            o.Store(partials, topAt >= 0 ? topAt + 2 : -1, bottomAt >= 0 ? bottomAt + 2 : -1, 1f, 1f, fq, tiles);
        }
    }

    /// <summary>The cache slot of key <paramref name="j"/>, or -1 past the group's keys (staged as zeros, and masked).</summary>
    private static int Slot(int j, int lastKey, int pages, ArrayView<int> pageTable, int pageSize) =>
        j <= lastKey ? pageTable[pages + j / pageSize] * pageSize + j % pageSize : -1;

    /// <summary>Four elements of a key row as hi and lo word pairs, at an even word of the row.</summary>
    private static void StoreKey<TMma, TKv>(ArrayView<uint> kHi, ArrayView<uint> kLo, int at, Float4 k) where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        Bf16Split a = Bf16Split.Of<TMma>(k.A, k.B), b = Bf16Split.Of<TMma>(k.C, k.D);
        kHi.Cast<Words2>()[at / 2] = new Words2(a.Hi, b.Hi);
        if (!default(TKv).IsBf16) kLo.Cast<Words2>()[at / 2] = new Words2(a.Lo, b.Lo);
    }

    /// <summary>Four elements of two consecutive keys (v0's key first) into four rows of Vᵀ, one word each.</summary>
    private static void StoreValues<TMma, TKv>(ArrayView<uint> vHi, ArrayView<uint> vLo, int at, Float4 v0, Float4 v1) where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        Bf16Split a = Bf16Split.Of<TMma>(v0.A, v1.A), b = Bf16Split.Of<TMma>(v0.B, v1.B), c = Bf16Split.Of<TMma>(v0.C, v1.C), e = Bf16Split.Of<TMma>(v0.D, v1.D);
        vHi[at] = a.Hi;
        vHi[at + ValueRowWords] = b.Hi;
        vHi[at + 2 * ValueRowWords] = c.Hi;
        vHi[at + 3 * ValueRowWords] = e.Hi;
        if (default(TKv).IsBf16) return;
        vLo[at] = a.Lo;
        vLo[at + ValueRowWords] = b.Lo;
        vLo[at + 2 * ValueRowWords] = c.Lo;
        vLo[at + 3 * ValueRowWords] = e.Lo;
    }

    /// <summary>
    /// Scores of the warp's 16 rows against 8 keys (the staged K rows from word <paramref name="at"/>'s row on): one
    /// C fragment over the head's k16 steps. Steps past the head (d is a constant in a specialized build) fold away.
    /// </summary>
    private static CFragment Score<TMma, TKv>(Queries q, ArrayView<uint> kHi, ArrayView<uint> kLo, int at, int steps, ArrayView<uint> exchange) where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        CFragment c = Product<TMma, TKv>(default, q.Q0, kHi, kLo, at, exchange);
        if (steps > 1) c = Product<TMma, TKv>(c, q.Q1, kHi, kLo, at + 8, exchange);
        if (steps > 2) c = Product<TMma, TKv>(c, q.Q2, kHi, kLo, at + 16, exchange);
        if (steps > 3) c = Product<TMma, TKv>(c, q.Q3, kHi, kLo, at + 24, exchange);
        if (steps > 4) c = Product<TMma, TKv>(c, q.Q4, kHi, kLo, at + 32, exchange);
        if (steps > 5) c = Product<TMma, TKv>(c, q.Q5, kHi, kLo, at + 40, exchange);
        if (steps > 6) c = Product<TMma, TKv>(c, q.Q6, kHi, kLo, at + 48, exchange);
        if (steps > 7) c = Product<TMma, TKv>(c, q.Q7, kHi, kLo, at + 56, exchange);
        return c;
    }

    /// <summary>
    /// c + a·b for split operands: hi·lo + lo·hi + hi·hi (the small terms first). From a bf16 cache b is exact in one
    /// term (its lo is zero, and not staged): lo·hi + hi·hi.
    /// </summary>
    private static CFragment Product<TMma, TKv>(CFragment c, SplitFragment a, ArrayView<uint> bHi, ArrayView<uint> bLo, int at, ArrayView<uint> exchange) where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        BFragment hi = BFragment.Read(bHi, at);
        if (!default(TKv).IsBf16) c = default(TMma).Multiply(c, a.Hi, BFragment.Read(bLo, at), exchange);
        c = default(TMma).Multiply(c, a.Lo, hi, exchange);
        return default(TMma).Multiply(c, a.Hi, hi, exchange);
    }

    /// <summary>The fragment with -inf where the key (column 2q of <paramref name="key"/>, and the next) is hidden from the row.</summary>
    private static CFragment Mask(CFragment s, int key, RowKeys top, RowKeys bottom) => new(
        top.Sees(key) ? s.C0 : float.NegativeInfinity, top.Sees(key + 1) ? s.C1 : float.NegativeInfinity,
        bottom.Sees(key) ? s.C2 : float.NegativeInfinity, bottom.Sees(key + 1) ? s.C3 : float.NegativeInfinity);

    private static CFragment Exponentials(CFragment s, float top, float bottom) =>
        new(XMath.Exp(s.C0 - top), XMath.Exp(s.C1 - top), XMath.Exp(s.C2 - bottom), XMath.Exp(s.C3 - bottom));

    /// <summary>
    /// The A fragment of P for one k16 step of keys from the C fragments of its two 8-key halves: A's registers are rows
    /// g and g + 8 at columns 2q, 2q + 1 (the first half's C0 C1 and C2 C3) and 2q + 8, 2q + 9 (the second half's).
    /// </summary>
    private static SplitFragment Probabilities<TMma>(CFragment left, CFragment right) where TMma : struct, IMma
    {
        Bf16Split a = Bf16Split.Of<TMma>(left.C0, left.C1), b = Bf16Split.Of<TMma>(left.C2, left.C3);
        Bf16Split c = Bf16Split.Of<TMma>(right.C0, right.C1), e = Bf16Split.Of<TMma>(right.C2, right.C3);
        return new SplitFragment(new AFragment(a.Hi, b.Hi, c.Hi, e.Hi), new AFragment(a.Lo, b.Lo, c.Lo, e.Lo));
    }

    /// <summary>The keys a query row sees: Low .. High (empty for a row past the block's: High = -1).</summary>
    private readonly struct RowKeys(int low, int high)
    {
        public readonly int Low = low, High = high;

        public static RowKeys Of(int row, int rows, int g, int first, ArrayView<int> positions, int window, int lastKey)
        {
            if (row >= rows) return new RowKeys(int.MaxValue, -1);
            int position = positions[first + row / g];
            return new RowKeys(window > 0 ? XMath.Max(0, position - window + 1) : 0, XMath.Min(position, lastKey));
        }

        public bool Sees(int key) => key >= Low && key <= High;
    }

    /// <summary>The warp's 16 query rows (scaled) as split A fragments, one per k16 step of the head: up to 8 (d = 128).</summary>
    private readonly struct Queries(SplitFragment q0, SplitFragment q1, SplitFragment q2, SplitFragment q3,
        SplitFragment q4, SplitFragment q5, SplitFragment q6, SplitFragment q7)
    {
        public readonly SplitFragment Q0 = q0, Q1 = q1, Q2 = q2, Q3 = q3, Q4 = q4, Q5 = q5, Q6 = q6, Q7 = q7;

        /// <summary>
        /// Straight from the qkv rows: lane (g, q) reads elements 2q, 2q + 1, 2q + 8, 2q + 9 of each 16 of rows g and
        /// g + 8 (each quad reads 32 contiguous bytes of a row). An idle row (offset -1) is zeros.
        /// </summary>
        public static Queries Load<TMma>(ArrayView<float> qkv, int top, int bottom, float scale, int fq, int steps) where TMma : struct, IMma => new(
            Step<TMma>(qkv, top, bottom, scale, 2 * fq),
            steps > 1 ? Step<TMma>(qkv, top, bottom, scale, 16 + 2 * fq) : default,
            steps > 2 ? Step<TMma>(qkv, top, bottom, scale, 32 + 2 * fq) : default,
            steps > 3 ? Step<TMma>(qkv, top, bottom, scale, 48 + 2 * fq) : default,
            steps > 4 ? Step<TMma>(qkv, top, bottom, scale, 64 + 2 * fq) : default,
            steps > 5 ? Step<TMma>(qkv, top, bottom, scale, 80 + 2 * fq) : default,
            steps > 6 ? Step<TMma>(qkv, top, bottom, scale, 96 + 2 * fq) : default,
            steps > 7 ? Step<TMma>(qkv, top, bottom, scale, 112 + 2 * fq) : default);

        private static SplitFragment Step<TMma>(ArrayView<float> qkv, int top, int bottom, float scale, int column) where TMma : struct, IMma
        {
            Bf16Split a = top >= 0 ? Bf16Split.Of<TMma>(qkv[top + column] * scale, qkv[top + column + 1] * scale) : default;
            Bf16Split b = bottom >= 0 ? Bf16Split.Of<TMma>(qkv[bottom + column] * scale, qkv[bottom + column + 1] * scale) : default;
            Bf16Split c = top >= 0 ? Bf16Split.Of<TMma>(qkv[top + column + 8] * scale, qkv[top + column + 9] * scale) : default;
            Bf16Split e = bottom >= 0 ? Bf16Split.Of<TMma>(qkv[bottom + column + 8] * scale, qkv[bottom + column + 9] * scale) : default;
            return new SplitFragment(new AFragment(a.Hi, b.Hi, c.Hi, e.Hi), new AFragment(a.Lo, b.Lo, c.Lo, e.Lo));
        }
    }

    /// <summary>
    /// The warp's 16 x d output as C fragments, one per 8 columns: up to 16 (d = 128). Tiles past the head (a constant
    /// in a specialized build) fold away.
    /// </summary>
    private readonly struct Accumulator(CFragment o0, CFragment o1, CFragment o2, CFragment o3, CFragment o4, CFragment o5,
        CFragment o6, CFragment o7, CFragment o8, CFragment o9, CFragment o10, CFragment o11, CFragment o12, CFragment o13,
        CFragment o14, CFragment o15)
    {
        public readonly CFragment O0 = o0, O1 = o1, O2 = o2, O3 = o3, O4 = o4, O5 = o5, O6 = o6, O7 = o7;
        public readonly CFragment O8 = o8, O9 = o9, O10 = o10, O11 = o11, O12 = o12, O13 = o13, O14 = o14, O15 = o15;

        /// <summary>Rows g times <paramref name="top"/>, rows g + 8 times <paramref name="bottom"/>.</summary>
        public Accumulator Scale(float top, float bottom, int tiles) => new(
            O0.Scale(top, bottom), O1.Scale(top, bottom),
            tiles > 2 ? O2.Scale(top, bottom) : O2, tiles > 3 ? O3.Scale(top, bottom) : O3,
            tiles > 4 ? O4.Scale(top, bottom) : O4, tiles > 5 ? O5.Scale(top, bottom) : O5,
            tiles > 6 ? O6.Scale(top, bottom) : O6, tiles > 7 ? O7.Scale(top, bottom) : O7,
            tiles > 8 ? O8.Scale(top, bottom) : O8, tiles > 9 ? O9.Scale(top, bottom) : O9,
            tiles > 10 ? O10.Scale(top, bottom) : O10, tiles > 11 ? O11.Scale(top, bottom) : O11,
            tiles > 12 ? O12.Scale(top, bottom) : O12, tiles > 13 ? O13.Scale(top, bottom) : O13,
            tiles > 14 ? O14.Scale(top, bottom) : O14, tiles > 15 ? O15.Scale(top, bottom) : O15);

        /// <summary>
        /// Adds P·V for the tile: <paramref name="p0"/> and <paramref name="p1"/> are P's keys 0-15 and 16-31;
        /// <paramref name="at"/> is the lane's word (row g, pair q) of the first 8 rows of Vᵀ.
        /// </summary>
        public Accumulator Add<TMma, TKv>(SplitFragment p0, SplitFragment p1, ArrayView<uint> vHi, ArrayView<uint> vLo, int at, int tiles,
            ArrayView<uint> exchange) where TMma : struct, IMma where TKv : struct, IKvFormat => new(
            Values<TMma, TKv>(O0, p0, p1, vHi, vLo, at, exchange),
            Values<TMma, TKv>(O1, p0, p1, vHi, vLo, at + 8 * ValueRowWords, exchange),
            tiles > 2 ? Values<TMma, TKv>(O2, p0, p1, vHi, vLo, at + 16 * ValueRowWords, exchange) : O2,
            tiles > 3 ? Values<TMma, TKv>(O3, p0, p1, vHi, vLo, at + 24 * ValueRowWords, exchange) : O3,
            tiles > 4 ? Values<TMma, TKv>(O4, p0, p1, vHi, vLo, at + 32 * ValueRowWords, exchange) : O4,
            tiles > 5 ? Values<TMma, TKv>(O5, p0, p1, vHi, vLo, at + 40 * ValueRowWords, exchange) : O5,
            tiles > 6 ? Values<TMma, TKv>(O6, p0, p1, vHi, vLo, at + 48 * ValueRowWords, exchange) : O6,
            tiles > 7 ? Values<TMma, TKv>(O7, p0, p1, vHi, vLo, at + 56 * ValueRowWords, exchange) : O7,
            tiles > 8 ? Values<TMma, TKv>(O8, p0, p1, vHi, vLo, at + 64 * ValueRowWords, exchange) : O8,
            tiles > 9 ? Values<TMma, TKv>(O9, p0, p1, vHi, vLo, at + 72 * ValueRowWords, exchange) : O9,
            tiles > 10 ? Values<TMma, TKv>(O10, p0, p1, vHi, vLo, at + 80 * ValueRowWords, exchange) : O10,
            tiles > 11 ? Values<TMma, TKv>(O11, p0, p1, vHi, vLo, at + 88 * ValueRowWords, exchange) : O11,
            tiles > 12 ? Values<TMma, TKv>(O12, p0, p1, vHi, vLo, at + 96 * ValueRowWords, exchange) : O12,
            tiles > 13 ? Values<TMma, TKv>(O13, p0, p1, vHi, vLo, at + 104 * ValueRowWords, exchange) : O13,
            tiles > 14 ? Values<TMma, TKv>(O14, p0, p1, vHi, vLo, at + 112 * ValueRowWords, exchange) : O14,
            tiles > 15 ? Values<TMma, TKv>(O15, p0, p1, vHi, vLo, at + 120 * ValueRowWords, exchange) : O15);

        // Keys 0-15 are words 0-7 of a Vᵀ row, keys 16-31 words 8-15.
        private static CFragment Values<TMma, TKv>(CFragment o, SplitFragment p0, SplitFragment p1, ArrayView<uint> vHi, ArrayView<uint> vLo, int at,
            ArrayView<uint> exchange) where TMma : struct, IMma where TKv : struct, IKvFormat =>
            Product<TMma, TKv>(Product<TMma, TKv>(o, p0, vHi, vLo, at, exchange), p1, vHi, vLo, at + 8, exchange);

        /// <summary>
        /// Writes rows g and g + 8 (at element offsets <paramref name="top"/>, <paramref name="bottom"/> of their heads;
        /// -1 for an idle row) times <paramref name="topScale"/>, <paramref name="bottomScale"/>.
        /// </summary>
        public void Store(ArrayView<float> y, int top, int bottom, float topScale, float bottomScale, int fq, int tiles)
        {
            int column = 2 * fq;
            Put(y, O0, top, bottom, column, topScale, bottomScale);
            Put(y, O1, top, bottom, column + 8, topScale, bottomScale);
            if (tiles > 2) Put(y, O2, top, bottom, column + 16, topScale, bottomScale);
            if (tiles > 3) Put(y, O3, top, bottom, column + 24, topScale, bottomScale);
            if (tiles > 4) Put(y, O4, top, bottom, column + 32, topScale, bottomScale);
            if (tiles > 5) Put(y, O5, top, bottom, column + 40, topScale, bottomScale);
            if (tiles > 6) Put(y, O6, top, bottom, column + 48, topScale, bottomScale);
            if (tiles > 7) Put(y, O7, top, bottom, column + 56, topScale, bottomScale);
            if (tiles > 8) Put(y, O8, top, bottom, column + 64, topScale, bottomScale);
            if (tiles > 9) Put(y, O9, top, bottom, column + 72, topScale, bottomScale);
            if (tiles > 10) Put(y, O10, top, bottom, column + 80, topScale, bottomScale);
            if (tiles > 11) Put(y, O11, top, bottom, column + 88, topScale, bottomScale);
            if (tiles > 12) Put(y, O12, top, bottom, column + 96, topScale, bottomScale);
            if (tiles > 13) Put(y, O13, top, bottom, column + 104, topScale, bottomScale);
            if (tiles > 14) Put(y, O14, top, bottom, column + 112, topScale, bottomScale);
            if (tiles > 15) Put(y, O15, top, bottom, column + 120, topScale, bottomScale);
        }

        private static void Put(ArrayView<float> y, CFragment c, int top, int bottom, int column, float topScale, float bottomScale)
        {
            if (top >= 0)
            {
                y[top + column] = c.C0 * topScale;
                y[top + column + 1] = c.C1 * topScale;
            }
            if (bottom >= 0)
            {
                y[bottom + column] = c.C2 * bottomScale;
                y[bottom + column + 1] = c.C3 * bottomScale;
            }
        }
    }
}
