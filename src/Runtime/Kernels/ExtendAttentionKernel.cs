using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Causal attention with grouped KV heads over the paged cache, a group of 8 warps per (block of a sequence's
/// consecutive tokens, KV head): the block's query rows (its tokens times the query heads sharing that KV head, at most
/// <see cref="MaxRows"/>) attend together, so each 32-key tile of K and V is read from memory once, coalesced, into
/// shared memory and serves every row, where a warp per row would read the whole context once per row. Each warp owns
/// two rows: lane j scores key j of the tile against the row's query, the warp folds the 32 scores into an online
/// softmax, and each lane accumulates up to four elements of the head from the staged values. K is staged transposed
/// with a padded stride so the 32 lanes' reads of one query element fall on distinct banks. Serves prefill chunks
/// (attending to the cached prefix and themselves) and decode tokens (a block of one token) alike; where
/// <see cref="TensorCoreAttentionKernel"/> is loaded, it takes the steps of two tokens a sequence or more.
/// When there are too few (block, KV head) groups to fill the GPU (a small decode batch over a long context), the keys
/// are split: grid.Z groups each attend to one range of <c>splitKeys</c> keys and leave their rows' partial softmax
/// state (max, sum, unnormalized output) in <c>partials</c>, which <see cref="AttentionCombineKernel"/> merges.
/// </summary>
internal static class ExtendAttentionKernel
{
    /// <summary>Query rows per group: two per warp.</summary>
    public const int MaxRows = 16;

    public const int GroupSize = 256;

    private const int Warps = GroupSize / 32;
    private const int TileKeys = 32;
    private const int KStride = TileKeys + 1;
    private const int MaxHeadDim = AttentionKernel.MaxHeadDim;

    /// <summary>Whether the kernel serves a model: its query heads per KV head fit the rows, its head rows are 16-byte pieces.</summary>
    public static bool Supports(IQwen2Dims dims) => dims.GroupSize <= MaxRows && dims.HeadDim % 4 == 0;

    /// <summary>A sequence's tokens per block, so that tokens times the query heads of a KV head fit the group's rows.</summary>
    public static int TokensPerBlock(int queryHeadsPerKvHead) => Math.Max(1, MaxRows / queryHeadsPerKvHead);

    /// <summary>Floats of one row's partial state: max, sum, and the unnormalized output.</summary>
    public const int PartialSize = 2 + MaxHeadDim;

    /// <summary>
    /// One group per (block, KV head, key range): <paramref name="blocks"/> holds (first token, token count) pairs, each
    /// block a run of one sequence's consecutive batch tokens; the grid is (block count, KV heads, key ranges). With one
    /// key range the group writes the output; with several, its rows' partial state.
    /// </summary>
    [KernelName("ExtendAttentionKernel")]
    public static void Run<TDims, TKv>(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<int> positions, ArrayView<int> tokenSequence, ArrayView<int> pageTable, ArrayView<int> pageOffsets,
        ArrayView<int> blocks, ArrayView<float> partials, int splitKeys, int pageSize, int window, TDims dims)
        where TDims : struct, IQwen2Dims where TKv : struct, IKvFormat
    {
        TKv cache = default;
        ArrayView<float> queries = SharedMemory.Allocate<float>(MaxRows * MaxHeadDim);
        ArrayView<float> keysT = SharedMemory.Allocate<float>(MaxHeadDim * KStride);
        ArrayView<float> vals = SharedMemory.Allocate<float>(TileKeys * MaxHeadDim);
        ArrayView<int> slots = SharedMemory.Allocate<int>(TileKeys);

        int first = blocks[2 * Grid.IdxX], count = blocks[2 * Grid.IdxX + 1];
        int kvHead = Grid.IdxY;
        int g = dims.GroupSize, d = dims.HeadDim, kvSize = dims.KvSize, kvBase = kvHead * d;
        int rows = count * g;
        int t = Group.IdxX;

        // Row r is token first + r / g under query head kvHead * g + r % g; the softmax scale is folded into q.
        float scale = XMath.Rsqrt(d);
        for (int e = t; e < rows * d; e += GroupSize)
        {
            int r = e / d, i = e - r * d;
            queries[r * MaxHeadDim + i] = qkv[(first + r / g) * dims.QkvSize + (kvHead * g + r % g) * d + i] * scale;
        }

        int pages = pageOffsets[tokenSequence[first]];
        ArrayView<Float4> vals4 = vals.Cast<Float4>();
        int split = Grid.IdxZ, splits = Grid.DimZ;
        // This group's keys: start .. lastPos, cut to its range when the keys are split.
        int lastPos = positions[first + count - 1];
        int start = window > 0 ? XMath.Max(0, positions[first] - window + 1) : 0;
        if (splits > 1)
        {
            start = XMath.Max(start, split * splitKeys);
            lastPos = XMath.Min(lastPos, (split + 1) * splitKeys - 1);
        }
        Row a = Row.Start(Warp.WarpIdx, rows, g, first, positions, window);
        Row b = Row.Start(Warp.WarpIdx + Warps, rows, g, first, positions, window);
        for (int tile = start; tile <= lastPos; tile += TileKeys)
        {
            Group.Barrier();   // the previous tile is consumed (and, the first time, the queries are staged)
            if (t < TileKeys)
            {
                int j = tile + t;
                slots[t] = j <= lastPos ? pageTable[pages + j / pageSize] * pageSize + j % pageSize : -1;
            }
            Group.Barrier();
            // Consecutive threads take consecutive 16-byte pieces of a key's row: coalesced, four floats a load.
            int quads = d / 4;
            for (int e = t; e < TileKeys * quads; e += GroupSize)
            {
                int j = e / quads, i = 4 * (e - j * quads);
                int slot = slots[j];
                int at = slot * kvSize + kvBase + i;
                Float4 k = slot >= 0 ? cache.Load4(keys, at) : default;
                keysT[i * KStride + j] = k.A;
                keysT[(i + 1) * KStride + j] = k.B;
                keysT[(i + 2) * KStride + j] = k.C;
                keysT[(i + 3) * KStride + j] = k.D;
                vals4[(j * MaxHeadDim + i) / 4] = slot >= 0 ? cache.Load4(values, at) : default;
            }
            Group.Barrier();
            a = a.Attend(tile, lastPos, queries, keysT, vals, d);
            b = b.Attend(tile, lastPos, queries, keysT, vals, d);
        }
        if (splits == 1)
        {
            a.Store(output, first, g, kvHead, d, dims.QSize);
            b.Store(output, first, g, kvHead, d, dims.QSize);
        }
        else
        {
            int group = (Grid.IdxX * Grid.DimY + kvHead) * splits + split;
            a.StorePartial(partials, group, d);
            b.StorePartial(partials, group, d);
        }
    }

    /// <summary>A warp's query row: its position, its window's first key, and its online-softmax state.</summary>
    private readonly struct Row(int index, int position, int lowest, float max, float sum, float o0, float o1, float o2, float o3)
    {
        public readonly int Index = index, Position = position, Lowest = lowest;
        public readonly float Max = max, Sum = sum, O0 = o0, O1 = o1, O2 = o2, O3 = o3;

        /// <summary>Row <paramref name="index"/> of the block, or an idle one (index -1) past its rows.</summary>
        public static Row Start(int index, int rows, int g, int first, ArrayView<int> positions, int window)
        {
            if (index >= rows) return new Row(-1, -1, 0, float.NegativeInfinity, 0f, 0f, 0f, 0f, 0f);
            int position = positions[first + index / g];
            int lowest = window > 0 ? XMath.Max(0, position - window + 1) : 0;
            return new Row(index, position, lowest, float.NegativeInfinity, 0f, 0f, 0f, 0f, 0f);
        }

        /// <summary>
        /// Folds keys tile .. min(tile + 31, last) into the row (the whole warp takes the same branches).
        /// </summary>
        public Row Attend(int tile, int last, ArrayView<float> queries, ArrayView<float> keysT, ArrayView<float> vals, int d)
        {
            // Idle, or no key of the tile is both at or before the row's position and inside its window: nothing to see.
            int end = XMath.Min(XMath.Min(tile + TileKeys - 1, last), Position);
            if (Index < 0 || XMath.Max(tile, Lowest) > end) return this;
            int lane = Warp.LaneIdx;
            int j = tile + lane;
            bool visible = j <= end && j >= Lowest;
            // Views at the row's query and the lane's key, taken a few elements at a time: shared memory is then
            // addressed at constant offsets from one base (ILGPU recomputes the address of every indexed access).
            ArrayView<float> q = queries.SubView(Index * MaxHeadDim), k = keysT.SubView(lane);
            float dot = 0f;
            for (int i = 0; i < d; i += 4)
            {
                ArrayView<float> qi = q.SubView(i), ki = k.SubView(i * KStride);
                dot += qi[0] * ki[0] + qi[1] * ki[KStride] + qi[2] * ki[2 * KStride] + qi[3] * ki[3 * KStride];
            }
            float score = visible ? dot : float.NegativeInfinity;

            // Some key of the tile is visible (the checks above), so the tile's maximum is finite.
            float tileMax = score;
            tileMax = KernelMath.WarpMax(tileMax);
            float next = XMath.Max(Max, tileMax);
            float correction = XMath.Exp(Max - next);
            float p = visible ? XMath.Exp(score - next) : 0f;
            float sum = Sum * correction + KernelMath.WarpSum(p);
            float o0 = O0 * correction, o1 = O1 * correction, o2 = O2 * correction, o3 = O3 * correction;
            // Lane l accumulates elements l, l + 32, l + 64 and l + 96 of the head: the tests on the (constant) head size
            // drop the ones a model's head lacks. A masked key's weight is 0 (its staged value is finite).
            bool has0 = d >= 32 || lane < d, has1 = d > 32 && (d >= 64 || lane + 32 < d);
            bool has2 = d > 64 && (d >= 96 || lane + 64 < d), has3 = d > 96 && (d >= 128 || lane + 96 < d);
            ArrayView<float> v = vals.SubView(lane);
            for (int key = 0; key < TileKeys; key += 4)
            {
                float p0 = Warp.Shuffle(p, key), p1 = Warp.Shuffle(p, key + 1), p2 = Warp.Shuffle(p, key + 2), p3 = Warp.Shuffle(p, key + 3);
                ArrayView<float> vk = v.SubView(key * MaxHeadDim);
                if (has0) o0 += p0 * vk[0] + p1 * vk[MaxHeadDim] + p2 * vk[2 * MaxHeadDim] + p3 * vk[3 * MaxHeadDim];
                if (has1) o1 += p0 * vk[32] + p1 * vk[MaxHeadDim + 32] + p2 * vk[2 * MaxHeadDim + 32] + p3 * vk[3 * MaxHeadDim + 32];
                if (has2) o2 += p0 * vk[64] + p1 * vk[MaxHeadDim + 64] + p2 * vk[2 * MaxHeadDim + 64] + p3 * vk[3 * MaxHeadDim + 64];
                if (has3) o3 += p0 * vk[96] + p1 * vk[MaxHeadDim + 96] + p2 * vk[2 * MaxHeadDim + 96] + p3 * vk[3 * MaxHeadDim + 96];
            }
            return new Row(Index, Position, Lowest, next, sum, o0, o1, o2, o3);
        }

        /// <summary>The row's max, sum and unnormalized output, for the combine kernel (an idle row writes nothing).</summary>
        public void StorePartial(ArrayView<float> partials, int group, int d)
        {
            if (Index < 0) return;
            int lane = Warp.LaneIdx;
            int at = (group * MaxRows + Index) * PartialSize;
            if (lane == 0)
            {
                partials[at] = Max;
                partials[at + 1] = Sum;
            }
            at += 2 + lane;
            if (lane < d) partials[at] = O0;
            if (lane + 32 < d) partials[at + 32] = O1;
            if (lane + 64 < d) partials[at + 64] = O2;
            if (lane + 96 < d) partials[at + 96] = O3;
        }

        public void Store(ArrayView<float> output, int first, int g, int kvHead, int d, int qSize)
        {
            if (Index < 0) return;
            int lane = Warp.LaneIdx;
            int at = (first + Index / g) * qSize + (kvHead * g + Index % g) * d + lane;
            float inverse = 1f / Sum;
            if (lane < d) output[at] = O0 * inverse;
            if (lane + 32 < d) output[at + 32] = O1 * inverse;
            if (lane + 64 < d) output[at + 64] = O2 * inverse;
            if (lane + 96 < d) output[at + 96] = O3 * inverse;
        }
    }
}
