using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Causal attention with grouped KV heads over the paged cache, one warp per (token, query head); serves prefill
/// (each token sees the keys up to its position, the cached prefix included) and decode alike. Keys are taken 32 at a
/// time, one per lane: each lane computes its key's full dot product with the query (staged in shared memory), the
/// warp folds the 32 scores into an online softmax, then accumulates the values with each lane owning up to 4
/// elements of the head (head_dim ≤ 128). Loads of different keys overlap, so a long context costs bandwidth rather
/// than one memory latency per key.
/// </summary>
internal static class AttentionKernel
{
    public const int MaxHeadDim = 128;

    /// <summary>Warps a group may hold: the kernels launch groups of at most 256 threads.</summary>
    private const int MaxWarpsPerGroup = 8;

    [KernelName("AttentionKernel")]
    public static void Run<TDims, TKv>(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<int> positions, ArrayView<int> tokenSequence, ArrayView<int> pageTable, ArrayView<int> pageOffsets,
        int pageSize, int window, int tokens, TDims dims) where TDims : struct, IQwen2Dims where TKv : struct, IKvFormat
    {
        TKv cache = default;
        ArrayView<float> queries = SharedMemory.Allocate<float>(MaxWarpsPerGroup * MaxHeadDim);
        int heads = dims.NumHeads;
        int item = Grid.IdxX * (Group.DimX / 32) + Warp.WarpIdx;
        if (item >= tokens * heads) return;
        int t = item / heads, h = item - t * heads;
        int d = dims.HeadDim, kvBase = (h / dims.GroupSize) * d, kvSize = dims.KvSize;
        int lane = Warp.LaneIdx;
        int q = Warp.WarpIdx * MaxHeadDim;
        float scale = XMath.Rsqrt(d);

        int qBase = t * dims.QkvSize + h * d;
        for (int i = lane; i < d; i += 32) queries[q + i] = qkv[qBase + i];
        Warp.Barrier();

        int pos = positions[t];
        int first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        int pages = pageOffsets[tokenSequence[t]];
        float max = float.NegativeInfinity, sum = 0f;
        float o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f;
        for (int block = first; block <= pos; block += 32)
        {
            int j = block + lane;
            int slot = 0;
            float score = float.NegativeInfinity;
            if (j <= pos)
            {
                int page = j / pageSize;
                slot = pageTable[pages + page] * pageSize + j - page * pageSize;
                int at = slot * kvSize + kvBase;
                // Four independent loads before their multiply-adds: a plain loop would wait out one memory latency
                // per element (Nsight showed decode attention latency-bound).
                float dot = 0f;
                int i = 0;
                for (; i + 4 <= d; i += 4)
                {
                    float k0 = cache.Load(keys, at + i), k1 = cache.Load(keys, at + i + 1), k2 = cache.Load(keys, at + i + 2), k3 = cache.Load(keys, at + i + 3);
                    dot += queries[q + i] * k0 + queries[q + i + 1] * k1 + queries[q + i + 2] * k2 + queries[q + i + 3] * k3;
                }
                for (; i < d; i++) dot += queries[q + i] * cache.Load(keys, at + i);
                score = dot * scale;
            }

            float blockMax = score;
            blockMax = KernelMath.WarpMax(blockMax);
            float next = XMath.Max(max, blockMax);
            float correction = XMath.Exp(max - next);
            float p = j <= pos ? XMath.Exp(score - next) : 0f;
            sum = sum * correction + KernelMath.WarpSum(p);
            o0 *= correction;
            o1 *= correction;
            o2 *= correction;
            o3 *= correction;

            int count = pos - block + 1 < 32 ? pos - block + 1 : 32;
            for (int k = 0; k < count; k++)
            {
                float pk = Warp.Shuffle(p, k);
                int at = Warp.Shuffle(slot, k) * kvSize + kvBase + lane;
                if (lane < d) o0 += pk * cache.Load(values, at);
                if (lane + 32 < d) o1 += pk * cache.Load(values, at + 32);
                if (lane + 64 < d) o2 += pk * cache.Load(values, at + 64);
                if (lane + 96 < d) o3 += pk * cache.Load(values, at + 96);
            }
            max = next;
        }

        int oBase = t * dims.QSize + h * d + lane;
        float inv = 1f / sum;
        if (lane < d) output[oBase] = o0 * inv;
        if (lane + 32 < d) output[oBase + 32] = o1 * inv;
        if (lane + 64 < d) output[oBase + 64] = o2 * inv;
        if (lane + 96 < d) output[oBase + 96] = o3 * inv;
    }
}
