using ILGPU;
using ILGPU.Algorithms;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Causal attention with grouped KV heads over the paged cache, one warp per (token, query head). Lanes split the
/// head dimension (up to 4 elements each, head_dim ≤ 128); keys are visited in order with an online softmax, so
/// no score buffer is needed at any context length. Serves prefill (each token sees the keys up to its position,
/// the prefix included) and decode alike.
/// </summary>
internal static class AttentionKernel
{
    public const int MaxHeadDim = 128;

    public static void Run<TDims>(ArrayView<float> qkv, ArrayView<float> output, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<int> positions, ArrayView<int> tokenSequence, ArrayView<int> pageTable, ArrayView<int> pageOffsets,
        int pageSize, int window, int tokens, TDims dims) where TDims : struct, IQwen2Dims
    {
        int heads = dims.NumHeads;
        int item = Grid.IdxX * (Group.DimX / 32) + Warp.WarpIdx;
        if (item >= tokens * heads) return;
        int t = item / heads, h = item - t * heads;
        int d = dims.HeadDim, kvBase = (h / dims.GroupSize) * d;
        int lane = Warp.LaneIdx;
        float scale = XMath.Rsqrt(d);

        int qBase = t * dims.QkvSize + h * d;
        float q0 = lane < d ? qkv[qBase + lane] : 0f;
        float q1 = lane + 32 < d ? qkv[qBase + lane + 32] : 0f;
        float q2 = lane + 64 < d ? qkv[qBase + lane + 64] : 0f;
        float q3 = lane + 96 < d ? qkv[qBase + lane + 96] : 0f;

        int pos = positions[t];
        int first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
        int pages = pageOffsets[tokenSequence[t]];
        float max = float.NegativeInfinity, sum = 0f;
        float o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f;
        for (int j = first; j <= pos; j++)
        {
            int page = j / pageSize;
            int at = (pageTable[pages + page] * pageSize + j - page * pageSize) * dims.KvSize + kvBase + lane;
            float partial = 0f;
            if (lane < d) partial += q0 * keys[at];
            if (lane + 32 < d) partial += q1 * keys[at + 32];
            if (lane + 64 < d) partial += q2 * keys[at + 64];
            if (lane + 96 < d) partial += q3 * keys[at + 96];
            float score = KernelMath.WarpSum(partial) * scale;

            float next = XMath.Max(max, score);
            float correction = XMath.Exp(max - next);
            float p = XMath.Exp(score - next);
            sum = sum * correction + p;
            if (lane < d) o0 = o0 * correction + p * values[at];
            if (lane + 32 < d) o1 = o1 * correction + p * values[at + 32];
            if (lane + 64 < d) o2 = o2 * correction + p * values[at + 64];
            if (lane + 96 < d) o3 = o3 * correction + p * values[at + 96];
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
