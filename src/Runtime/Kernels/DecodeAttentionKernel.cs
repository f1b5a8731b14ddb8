using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Decode attention on tensor cores (<see cref="IMma"/>): the one new token of a sequence against its paged cache,
/// a group of <see cref="Warps"/> warps per (sequence, KV head, key range). The query heads of the KV head (G ≤ 8) are
/// the top rows of one 16-row MMA tile; the bottom rows are zeros and never stored. The warps take the range's 16-key
/// chunks in turn, each keeping its own online softmax, and merge through shared memory at the end. Nothing is staged:
/// each lane loads the K and V elements its B fragments need straight from the cache (16-byte loads, 64 or 128
/// contiguous bytes per key row across a quad or an octet of lanes), so a chunk costs no barrier.
/// <para>
/// Per chunk a warp computes S = Q·Kᵀ (16 x 16: two C fragments, keys 0-7 and 8-15), masks it to the range, folds it
/// into the online softmax (a row's 16 scores lie in the four lanes of a quad: two shuffles for its max) and adds P·V,
/// P's A fragment being S's C fragments (the flash-attention register trick). The MMA sums over k, so any order of k
/// serves if both operands agree; the kernel picks the orders that make each lane's loads contiguous.
/// <list type="bullet">
/// <item>Q·Kᵀ: lane (g, q) loads key g (and 8 + g) at elements 4(q + 4s) .. + 3 for k16 step s of each 64-element half;
/// the first two are the step's rows 2q, 2q + 1 of B, the last two rows 2q + 8, 2q + 9. Q's A fragment takes the same
/// elements of its row.</item>
/// <item>P·V: lane (g, q) loads keys 2q, 2q + 1, 2q + 8, 2q + 9 (B's rows: k is the key) at elements 4(g + 8m) .. + 3,
/// and column g of output tile (t, m) is element 4(g + 8m) + t. So each lane's outputs of one m, C0 and C1 of tiles
/// t = 0..3, are elements 8q + 32m .. + 7: two 16-byte stores.</item>
/// </list>
/// </para>
/// <para>
/// float32 faithfulness as in <see cref="TensorCoreAttentionKernel"/>: Q, K, V and P are split into two bf16 terms and
/// each product takes three MMAs (hi·lo + lo·hi + hi·hi), so the output agrees with the float32 kernels to ~1e-5.
/// A bf16 cache (TKv = <see cref="Bf16Kv"/>) holds K and V as exact bf16 operands: their
/// products take two MMAs, and the loads are half the bytes. ptxas (11.8, sm_90) fits the float32 kernel in 168
/// registers (<see cref="Specialization"/>), no spills, ~500 instructions a warp per 16 keys at head size 64 (48 MMAs), where <see cref="ExtendAttentionKernel"/>
/// (a lane per key, shared-memory FMAs) spent ~1,150 on the same work.
/// </para>
/// Splitting the keys (grid.Z &gt; 1) leaves each row's max, sum and unnormalized output in <c>partials</c> for
/// <see cref="AttentionCombineKernel"/>, <see cref="Rows"/> rows a group. Chunks start at multiples of 16 keys, so a
/// page size that 16 divides puts a chunk in one page: one page-table read a chunk.
/// </summary>
internal static class DecodeAttentionKernel
{
    public const int Warps = 4;

    public const int GroupSize = 32 * Warps;

    /// <summary>Keys a warp takes at a time: one k16 step of P·V.</summary>
    public const int ChunkKeys = 16;

    /// <summary>Query heads per KV head the tile's top rows hold.</summary>
    public const int MaxQueryHeads = 8;

    /// <summary>Rows a group's partial state is laid out for, as the combine kernel reads it (that of the SIMT block kernel).</summary>
    public const int Rows = ExtendAttentionKernel.MaxRows;

    /// <summary>
    /// The launch bounds the kernel is compiled with: three groups an SM (12 warps), which holds ptxas to 168 registers;
    /// unbounded it took 177 (two groups), and at 128 it spilled.
    /// </summary>
    public static ILGPU.Runtime.KernelSpecialization Specialization => new(GroupSize, 3);

    private const int HalfDim = 64;
    private const int MaxHeadDim = 128;

    /// <summary>16-byte words of a merged row in shared memory: (max, sum, -, -), then the head's elements.</summary>
    private const int MergeRowQuads = 1 + MaxHeadDim / 4;

    /// <summary>Whether the kernel serves a model: at most 8 query heads per KV head, heads of 64 or 128 elements.</summary>
    public static bool Supports(IQwen2Dims dims) =>
        dims.GroupSize <= MaxQueryHeads && dims.HeadDim % HalfDim == 0 && dims.HeadDim <= MaxHeadDim;

    /// <summary>
    /// One group per (decode token, KV head, key range): <paramref name="blocks"/> holds (token, 1) pairs, one per
    /// sequence bringing a single token; the grid is (tokens, KV heads, key ranges). The other parameters are
    /// <see cref="ExtendAttentionKernel.Run{TDims}"/>'s.
    /// </summary>
    [KernelName("DecodeAttentionKernel")]
    public static void Run<TDims, TMma, TKv>(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<int> positions, ArrayView<int> tokenSequence, ArrayView<int> pageTable, ArrayView<int> pageOffsets,
        ArrayView<int> blocks, ArrayView<float> partials, int splitKeys, int pageSize, int window, TDims dims)
        where TDims : struct, IQwen2Dims where TMma : struct, IMma where TKv : struct, IKvFormat
    {
        ArrayView<Float4> merge = SharedMemory.Allocate<Float4>((Warps - 1) * MaxQueryHeads * MergeRowQuads);
        ArrayView<uint> exchange = Mma.Exchange<TMma>(GroupSize);
        int token = blocks[2 * Grid.IdxX];
        int kvHead = Grid.IdxY;
        int g = dims.GroupSize, d = dims.HeadDim, kvSize = dims.KvSize;
        int lane = Warp.LaneIdx, warp = Warp.WarpIdx, fg = lane >> 2, fq = lane & 3;
        bool twoHalves = d > HalfDim;

        int pages = pageOffsets[tokenSequence[token]];
        int split = Grid.IdxZ, splits = Grid.DimZ;
        // This group's keys: start .. lastKey, cut to its range when the keys are split (a range may then be empty).
        int lastKey = positions[token];
        int start = window > 0 ? XMath.Max(0, lastKey - window + 1) : 0;
        if (splits > 1)
        {
            start = XMath.Max(start, split * splitKeys);
            lastKey = XMath.Min(lastKey, (split + 1) * splitKeys - 1);
        }

        // Row fg is query head kvHead * G + fg; rows past G are zeros. The softmax scale is folded into q.
        int query = fg < g ? token * dims.QkvSize + (kvHead * g + fg) * d : -1;
        float scale = XMath.Rsqrt(d);
        QueryHalf q0 = QueryHalf.Load<TMma>(qkv, query, scale, fq);
        QueryHalf q1 = twoHalves ? QueryHalf.Load<TMma>(qkv, query < 0 ? -1 : query + HalfDim, scale, fq) : default;

        // Each chunk's loads are issued one chunk ahead, so a warp has a whole chunk's in flight while it computes:
        // issued in the same iteration, ptxas moved each load down to its first use and a warp waited on them a few
        // at a time. The loads after the last chunk repeat it (cache hits; no branch in the loop).
        int firstChunk = (start & ~(ChunkKeys - 1)) + warp * ChunkKeys, stride = Warps * ChunkKeys;
        var layout = new CacheRows<TKv>(keys, values, pages, pageTable, pageSize, (pageSize & (ChunkKeys - 1)) == 0,
            kvSize, kvHead * d, fg, fq, twoHalves);
        // A bf16 cache's elements are bf16 already: K and V have no low term (one MMA fewer a product).
        bool exact = default(TKv).IsBf16;
        ChunkValues ahead = layout.Load(XMath.Min(firstChunk, lastKey), lastKey);
        float max = float.NegativeInfinity, sum = 0f;
        OutputHalf o0 = default, o1 = default;
        for (int j0 = firstChunk; j0 <= lastKey; j0 += stride)
        {
            ChunkValues c = ahead;
            ahead = layout.Load(j0 + stride <= lastKey ? j0 + stride : j0, lastKey);
            KeyHalf ka = c.Ka, kb = c.Kb, ka1 = c.Ka1, kb1 = c.Kb1;
            ValueHalf va = c.Va, va1 = c.Va1;

            CFragment s0 = ka.Score<TMma>(default, q0, exact, exchange), s8 = kb.Score<TMma>(default, q0, exact, exchange);
            if (twoHalves)
            {
                s0 = ka1.Score<TMma>(s0, q1, exact, exchange);
                s8 = kb1.Score<TMma>(s8, q1, exact, exchange);
            }
            // Row fg's scores of keys j0 + 2fq, + 1 (s0.C0, C1) and j0 + 8 + 2fq, + 1 (s8.C0, C1).
            int key = j0 + 2 * fq;
            // (& rather than &&: ILGPU branches on &&, and a branch splits the block ptxas schedules.)
            float a0 = (key >= start) & (key <= lastKey) ? s0.C0 : float.NegativeInfinity;
            float a1 = (key + 1 >= start) & (key + 1 <= lastKey) ? s0.C1 : float.NegativeInfinity;
            float b0 = (key + 8 >= start) & (key + 8 <= lastKey) ? s8.C0 : float.NegativeInfinity;
            float b1 = (key + 9 >= start) & (key + 9 <= lastKey) ? s8.C1 : float.NegativeInfinity;

            // A chunk holds a key of the range (j0 ≤ lastKey, and only the first chunk starts before start), so its
            // maximum is finite and the first correction is e^-inf = 0.
            float chunkMax = XMath.Max(XMath.Max(a0, a1), XMath.Max(b0, b1));
            chunkMax = XMath.Max(chunkMax, Warp.ShuffleXor(chunkMax, 1));
            chunkMax = XMath.Max(chunkMax, Warp.ShuffleXor(chunkMax, 2));
            float next = XMath.Max(max, chunkMax);
            float correction = XMath.Exp(max - next);
            max = next;
            a0 = XMath.Exp(a0 - next);
            a1 = XMath.Exp(a1 - next);
            b0 = XMath.Exp(b0 - next);
            b1 = XMath.Exp(b1 - next);
            // Each lane sums its own columns; the quad's sums are added once, at the end.
            sum = sum * correction + ((a0 + a1) + (b0 + b1));

            Bf16Split pa = Bf16Split.Of<TMma>(a0, a1), pb = Bf16Split.Of<TMma>(b0, b1);
            var p = new SplitFragment(new AFragment(pa.Hi, 0, pb.Hi, 0), new AFragment(pa.Lo, 0, pb.Lo, 0));
            o0 = o0.Scale(correction).Add<TMma>(p, va, exact, exchange);
            if (twoHalves) o1 = o1.Scale(correction).Add<TMma>(p, va1, exact, exchange);
        }
        sum += Warp.ShuffleXor(sum, 1);
        sum += Warp.ShuffleXor(sum, 2);

        // Warps 1.. leave their rows' state in shared memory; warp 0 merges it into its own and writes the result.
        int mergeRow = fg * MergeRowQuads;
        if (warp > 0)
        {
            int mine = (warp - 1) * MaxQueryHeads * MergeRowQuads + mergeRow;
            if (fq == 0) merge[mine] = new Float4 { A = max, B = sum };
            o0.Store(merge, mine + 1, fq, 1f);
            if (twoHalves) o1.Store(merge, mine + 1 + HalfDim / 4, fq, 1f);
        }
        Group.Barrier();
        if (warp > 0) return;

        // A warp that had no chunk (or a range with no key) has max -inf: weight 0.
        float total = max;
        for (int w = 0; w < Warps - 1; w++) total = XMath.Max(total, merge[w * MaxQueryHeads * MergeRowQuads + mergeRow].A);
        float own = Weight(max, total);
        sum *= own;
        o0 = o0.Scale(own);
        o1 = o1.Scale(own);
        for (int w = 0; w < Warps - 1; w++)
        {
            int theirs = w * MaxQueryHeads * MergeRowQuads + mergeRow;
            Float4 state = merge[theirs];
            float weight = Weight(state.A, total);
            sum += state.B * weight;
            o0 = o0.Merge(merge, theirs + 1, fq, weight);
            if (twoHalves) o1 = o1.Merge(merge, theirs + 1 + HalfDim / 4, fq, weight);
        }
        if (fg >= g) return;

        if (splits == 1)
        {
            ArrayView<Float4> output4 = output.Cast<Float4>();
            int at = (token * dims.QSize + (kvHead * g + fg) * d) / 4;
            float inverse = 1f / sum;
            o0.Store(output4, at, fq, inverse);
            if (twoHalves) o1.Store(output4, at + HalfDim / 4, fq, inverse);
        }
        else
        {
            int group = (Grid.IdxX * Grid.DimY + kvHead) * splits + split;
            int at = (group * Rows + fg) * ExtendAttentionKernel.PartialSize;
            if (fq == 0)
            {
                partials[at] = total;
                partials[at + 1] = sum;
            }
            o0.StoreFloats(partials, at + 2, fq);
            if (twoHalves) o1.StoreFloats(partials, at + 2 + HalfDim, fq);
        }
    }

    private static float Weight(float max, float total) => max == float.NegativeInfinity ? 0f : XMath.Exp(max - total);

    /// <summary>
    /// Where a lane's K and V elements of a chunk lie in the cache: the group's sequence's pages and KV head, and the
    /// lane's fragment row and column pair. Keys past the range's last read the last (finite values, masked later).
    /// Where the page size is a multiple of 16 a chunk lies in one page (chunks start at multiples of 16): one
    /// page-table read a chunk (the test on the page size is made once: ILGPU computes a signed remainder by a
    /// division sequence, even by 16).
    /// </summary>
    private readonly struct CacheRows<TKv>(ArrayView<float> keys, ArrayView<float> values, int pages, ArrayView<int> pageTable, int pageSize,
        bool wholePages, int rowElements, int headElement, int fg, int fq, bool twoHalves) where TKv : struct, IKvFormat
    {
        private readonly ArrayView<float> _keys = keys, _values = values;
        private readonly ArrayView<int> _pageTable = pageTable;
        private readonly int _pages = pages, _pageSize = pageSize, _rowElements = rowElements, _headElement = headElement, _fg = fg, _fq = fq;
        private readonly bool _wholePages = wholePages, _twoHalves = twoHalves;

        /// <summary>The lane's K (keys g, 8 + g) and V (keys 2q, 2q + 1, 2q + 8, 2q + 9) elements of chunk <paramref name="first"/>.</summary>
        public ChunkValues Load(int first, int last)
        {
            int page = _wholePages ? first / _pageSize : 0;
            int firstSlot = _wholePages ? _pageTable[_pages + page] * _pageSize + (first - page * _pageSize) : 0;
            int k0 = Row(first, last, firstSlot, _fg) + 4 * _fq, k8 = Row(first, last, firstSlot, 8 + _fg) + 4 * _fq;
            int v0 = Row(first, last, firstSlot, 2 * _fq) + 4 * _fg, v1 = Row(first, last, firstSlot, 2 * _fq + 1) + 4 * _fg;
            int v8 = Row(first, last, firstSlot, 2 * _fq + 8) + 4 * _fg, v9 = Row(first, last, firstSlot, 2 * _fq + 9) + 4 * _fg;
            const int half = HalfDim;
            return new ChunkValues(KeyHalf.Load<TKv>(_keys, k0), KeyHalf.Load<TKv>(_keys, k8), ValueHalf.Load<TKv>(_values, v0, v1, v8, v9),
                _twoHalves ? KeyHalf.Load<TKv>(_keys, k0 + half) : default, _twoHalves ? KeyHalf.Load<TKv>(_keys, k8 + half) : default,
                _twoHalves ? ValueHalf.Load<TKv>(_values, v0 + half, v1 + half, v8 + half, v9 + half) : default);
        }

        /// <summary>The element where key first + <paramref name="i"/>'s row of the KV head starts.</summary>
        private int Row(int first, int last, int firstSlot, int i)
        {
            int j = XMath.Min(first + i, last);
            int slot;
            if (_wholePages)
            {
                slot = firstSlot + (j - first);
            }
            else
            {
                int page = j / _pageSize;
                slot = _pageTable[_pages + page] * _pageSize + (j - page * _pageSize);
            }
            return slot * _rowElements + _headElement;
        }
    }

    /// <summary>A lane's loads of one chunk: K of keys g and 8 + g, V, each over the head's one or two halves.</summary>
    private readonly struct ChunkValues(KeyHalf ka, KeyHalf kb, ValueHalf va, KeyHalf ka1, KeyHalf kb1, ValueHalf va1)
    {
        public readonly KeyHalf Ka = ka, Kb = kb, Ka1 = ka1, Kb1 = kb1;
        public readonly ValueHalf Va = va, Va1 = va1;
    }

    /// <summary>
    /// c + a·b for split operands, b given as the four float32 elements of B's rows 2q, 2q + 1 (the first two) and
    /// 2q + 8, 2q + 9 (the last two) of column g: hi·lo + lo·hi + hi·hi, the small terms first; with
    /// <paramref name="exact"/> (b's elements are bf16) b has no lo term, and the product is lo·hi + hi·hi.
    /// </summary>
    private static CFragment Product<TMma>(CFragment c, SplitFragment a, float b0, float b1, float b8, float b9, bool exact, ArrayView<uint> exchange)
        where TMma : struct, IMma
    {
        if (exact)
        {
            var b = new BFragment(default(TMma).Pack(b0, b1), default(TMma).Pack(b8, b9));
            return default(TMma).Multiply(default(TMma).Multiply(c, a.Lo, b, exchange), a.Hi, b, exchange);
        }
        Bf16Split low = Bf16Split.Of<TMma>(b0, b1), high = Bf16Split.Of<TMma>(b8, b9);
        var hi = new BFragment(low.Hi, high.Hi);
        c = default(TMma).Multiply(c, a.Hi, new BFragment(low.Lo, high.Lo), exchange);
        c = default(TMma).Multiply(c, a.Lo, hi, exchange);
        return default(TMma).Multiply(c, a.Hi, hi, exchange);
    }

    /// <summary>64 elements of the query rows as the four k16 steps' split A fragments (top rows; the bottom ones zero).</summary>
    private readonly struct QueryHalf(SplitFragment s0, SplitFragment s1, SplitFragment s2, SplitFragment s3)
    {
        public readonly SplitFragment S0 = s0, S1 = s1, S2 = s2, S3 = s3;

        /// <summary>Row elements 4(q + 4s) .. + 3 for step s, from offset <paramref name="at"/> (-1: a row of zeros).</summary>
        public static QueryHalf Load<TMma>(ArrayView<float> qkv, int at, float scale, int fq) where TMma : struct, IMma =>
            at < 0 ? default : new(Step<TMma>(qkv, at + 4 * fq, scale), Step<TMma>(qkv, at + 4 * fq + 16, scale),
                Step<TMma>(qkv, at + 4 * fq + 32, scale), Step<TMma>(qkv, at + 4 * fq + 48, scale));

        private static SplitFragment Step<TMma>(ArrayView<float> qkv, int at, float scale) where TMma : struct, IMma
        {
            Bf16Split low = Bf16Split.Of<TMma>(qkv[at] * scale, qkv[at + 1] * scale), high = Bf16Split.Of<TMma>(qkv[at + 2] * scale, qkv[at + 3] * scale);
            return new SplitFragment(new AFragment(low.Hi, 0, high.Hi, 0), new AFragment(low.Lo, 0, high.Lo, 0));
        }
    }

    /// <summary>A lane's K elements of one key over 64 of the head: step s's four at element <c>at + 16s</c>.</summary>
    private readonly struct KeyHalf(Float4 s0, Float4 s1, Float4 s2, Float4 s3)
    {
        public readonly Float4 S0 = s0, S1 = s1, S2 = s2, S3 = s3;

        public static KeyHalf Load<TKv>(ArrayView<float> keys, int at) where TKv : struct, IKvFormat =>
            new(default(TKv).Load4(keys, at), default(TKv).Load4(keys, at + 16), default(TKv).Load4(keys, at + 32), default(TKv).Load4(keys, at + 48));

        /// <summary>c + the query rows' scores against this key (column g of an 8-key C fragment) over these 64 elements.</summary>
        public CFragment Score<TMma>(CFragment c, QueryHalf q, bool exact, ArrayView<uint> exchange) where TMma : struct, IMma
        {
            c = Product<TMma>(c, q.S0, S0.A, S0.B, S0.C, S0.D, exact, exchange);
            c = Product<TMma>(c, q.S1, S1.A, S1.B, S1.C, S1.D, exact, exchange);
            c = Product<TMma>(c, q.S2, S2.A, S2.B, S2.C, S2.D, exact, exchange);
            return Product<TMma>(c, q.S3, S3.A, S3.B, S3.C, S3.D, exact, exchange);
        }
    }

    /// <summary>A lane's V elements over 64 of the head: keys 2q, 2q + 1, 2q + 8, 2q + 9, each at elements 4(g + 8m) .. + 3.</summary>
    private readonly struct ValueHalf(Float4 k0m0, Float4 k1m0, Float4 k8m0, Float4 k9m0, Float4 k0m1, Float4 k1m1, Float4 k8m1, Float4 k9m1)
    {
        public readonly Float4 K0M0 = k0m0, K1M0 = k1m0, K8M0 = k8m0, K9M0 = k9m0, K0M1 = k0m1, K1M1 = k1m1, K8M1 = k8m1, K9M1 = k9m1;

        /// <summary>From the four keys' rows at element 4g (m = 0; m = 1 is 32 elements on).</summary>
        public static ValueHalf Load<TKv>(ArrayView<float> values, int k0, int k1, int k8, int k9) where TKv : struct, IKvFormat
        {
            TKv cache = default;
            return new(cache.Load4(values, k0), cache.Load4(values, k1), cache.Load4(values, k8), cache.Load4(values, k9),
                cache.Load4(values, k0 + 32), cache.Load4(values, k1 + 32), cache.Load4(values, k8 + 32), cache.Load4(values, k9 + 32));
        }
    }

    /// <summary>
    /// The rows' output over 64 of the head: tile 4m + t holds, in column g, element 4(g + 8m) + t. Rows g + 8 stay zero
    /// (their A rows are), so only C0 and C1 are scaled and stored.
    /// </summary>
    private readonly struct OutputHalf(CFragment t0, CFragment t1, CFragment t2, CFragment t3, CFragment t4, CFragment t5, CFragment t6, CFragment t7)
    {
        public readonly CFragment T0 = t0, T1 = t1, T2 = t2, T3 = t3, T4 = t4, T5 = t5, T6 = t6, T7 = t7;

        public OutputHalf Scale(float s) => new(Top(T0, s), Top(T1, s), Top(T2, s), Top(T3, s), Top(T4, s), Top(T5, s), Top(T6, s), Top(T7, s));

        /// <summary>Adds P·V for a chunk: tile (t, m) takes component t of the values at m.</summary>
        public OutputHalf Add<TMma>(SplitFragment p, ValueHalf v, bool exact, ArrayView<uint> exchange) where TMma : struct, IMma => new(
            Product<TMma>(T0, p, v.K0M0.A, v.K1M0.A, v.K8M0.A, v.K9M0.A, exact, exchange),
            Product<TMma>(T1, p, v.K0M0.B, v.K1M0.B, v.K8M0.B, v.K9M0.B, exact, exchange),
            Product<TMma>(T2, p, v.K0M0.C, v.K1M0.C, v.K8M0.C, v.K9M0.C, exact, exchange),
            Product<TMma>(T3, p, v.K0M0.D, v.K1M0.D, v.K8M0.D, v.K9M0.D, exact, exchange),
            Product<TMma>(T4, p, v.K0M1.A, v.K1M1.A, v.K8M1.A, v.K9M1.A, exact, exchange),
            Product<TMma>(T5, p, v.K0M1.B, v.K1M1.B, v.K8M1.B, v.K9M1.B, exact, exchange),
            Product<TMma>(T6, p, v.K0M1.C, v.K1M1.C, v.K8M1.C, v.K9M1.C, exact, exchange),
            Product<TMma>(T7, p, v.K0M1.D, v.K1M1.D, v.K8M1.D, v.K9M1.D, exact, exchange));

        /// <summary>
        /// Row g's elements 8q + 32m .. + 7 times <paramref name="s"/> into 16-byte words <paramref name="at"/> + 2q + 8m
        /// and the next (<paramref name="at"/>: the word of element 0).
        /// </summary>
        public void Store(ArrayView<Float4> y, int at, int fq, float s)
        {
            at += 2 * fq;
            y[at] = new Float4 { A = T0.C0 * s, B = T1.C0 * s, C = T2.C0 * s, D = T3.C0 * s };
            y[at + 1] = new Float4 { A = T0.C1 * s, B = T1.C1 * s, C = T2.C1 * s, D = T3.C1 * s };
            y[at + 8] = new Float4 { A = T4.C0 * s, B = T5.C0 * s, C = T6.C0 * s, D = T7.C0 * s };
            y[at + 9] = new Float4 { A = T4.C1 * s, B = T5.C1 * s, C = T6.C1 * s, D = T7.C1 * s };
        }

        /// <summary>The same elements, unscaled, at float offset <paramref name="at"/> of element 0 (no alignment needed).</summary>
        public void StoreFloats(ArrayView<float> y, int at, int fq)
        {
            at += 8 * fq;
            y[at] = T0.C0; y[at + 1] = T1.C0; y[at + 2] = T2.C0; y[at + 3] = T3.C0;
            y[at + 4] = T0.C1; y[at + 5] = T1.C1; y[at + 6] = T2.C1; y[at + 7] = T3.C1;
            y[at + 32] = T4.C0; y[at + 33] = T5.C0; y[at + 34] = T6.C0; y[at + 35] = T7.C0;
            y[at + 36] = T4.C1; y[at + 37] = T5.C1; y[at + 38] = T6.C1; y[at + 39] = T7.C1;
        }

        /// <summary>This plus <paramref name="w"/> times what <see cref="Store"/> left at <paramref name="at"/>.</summary>
        public OutputHalf Merge(ArrayView<Float4> from, int at, int fq, float w)
        {
            at += 2 * fq;
            Float4 c0 = from[at], c1 = from[at + 1], c8 = from[at + 8], c9 = from[at + 9];
            return new(Plus(T0, c0.A, c1.A, w), Plus(T1, c0.B, c1.B, w), Plus(T2, c0.C, c1.C, w), Plus(T3, c0.D, c1.D, w),
                Plus(T4, c8.A, c9.A, w), Plus(T5, c8.B, c9.B, w), Plus(T6, c8.C, c9.C, w), Plus(T7, c8.D, c9.D, w));
        }

        private static CFragment Top(CFragment c, float s) => new(c.C0 * s, c.C1 * s, c.C2, c.C3);

        private static CFragment Plus(CFragment c, float c0, float c1, float w) => new(c.C0 + c0 * w, c.C1 + c1 * w, c.C2, c.C3);
    }
}
