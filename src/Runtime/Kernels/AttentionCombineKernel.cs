using ILGPU;
using ILGPU.Algorithms;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Merges the partial softmax states <see cref="ExtendAttentionKernel"/> leaves when it splits the keys: for each query
/// row, with m_s, l_s and o_s the max, sum and unnormalized output over key range s, the attention output is
/// Σ_s o_s·e^(m_s − M) / Σ_s l_s·e^(m_s − M) with M = max_s m_s (a range the row saw nothing of has m_s = −∞ and adds
/// nothing). One group per (block, KV head), a warp per row, each lane up to four elements of the head.
/// </summary>
internal static class AttentionCombineKernel
{
    public const int GroupSize = 256;

    private const int Warps = GroupSize / 32;

    public static void Run<TDims>(ArrayView<float> partials, ArrayView<float> output, ArrayView<int> blocks, int splits, TDims dims)
        where TDims : struct, IQwen2Dims
    {
        int first = blocks[2 * Grid.IdxX], count = blocks[2 * Grid.IdxX + 1];
        int kvHead = Grid.IdxY;
        int g = dims.GroupSize, d = dims.HeadDim;
        int lane = Warp.LaneIdx;
        int groups = (Grid.IdxX * Grid.DimY + kvHead) * splits;
        for (int row = Warp.WarpIdx; row < count * g; row += Warps)
        {
            float max = float.NegativeInfinity;
            for (int s = 0; s < splits; s++) max = XMath.Max(max, partials[((groups + s) * ExtendAttentionKernel.MaxRows + row) * ExtendAttentionKernel.PartialSize]);
            float sum = 0f, o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f;
            for (int s = 0; s < splits; s++)
            {
                int at = ((groups + s) * ExtendAttentionKernel.MaxRows + row) * ExtendAttentionKernel.PartialSize;
                float m = partials[at];
                if (m == float.NegativeInfinity) continue;   // the same for every lane: a range the row saw nothing of
                float scale = XMath.Exp(m - max);
                sum += partials[at + 1] * scale;
                at += 2 + lane;
                if (lane < d) o0 += partials[at] * scale;
                if (lane + 32 < d) o1 += partials[at + 32] * scale;
                if (lane + 64 < d) o2 += partials[at + 64] * scale;
                if (lane + 96 < d) o3 += partials[at + 96] * scale;
            }
            int outAt = (first + row / g) * dims.QSize + (kvHead * g + row % g) * d + lane;
            float inverse = 1f / sum;
            if (lane < d) output[outAt] = o0 * inverse;
            if (lane + 32 < d) output[outAt + 32] = o1 * inverse;
            if (lane + 64 < d) output[outAt + 64] = o2 * inverse;
            if (lane + 96 < d) output[outAt + 96] = o3 * inverse;
        }
    }
}
