using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// Merges the partial softmax states <see cref="ExtendAttentionKernel"/> and <see cref="TensorCoreAttentionKernel"/> leave
/// when they split the keys (<c>rowsPerGroup</c> rows of <see cref="ExtendAttentionKernel.PartialSize"/> floats per
/// group, the kernel's row capacity; <c>blocks</c> the block list that kernel ran on): for each query
/// row, with m_s, l_s and o_s the max, sum and unnormalized output over key range s, the attention output is
/// Σ_s o_s·e^(m_s − M) / Σ_s l_s·e^(m_s − M) with M = max_s m_s (a range the row saw nothing of has m_s = −∞ and adds
/// nothing). One group per (block, KV head), a warp per row, each lane up to four elements of the head; the ranges'
/// maxima and sums are read a range per lane. Groups of <see cref="GroupSize"/> threads, or fewer where the device
/// allows fewer (the warps take the rows in turn).
/// </summary>
internal static class AttentionCombineKernel
{
    public const int GroupSize = 256;

    [KernelName("AttentionCombineKernel")]
    public static void Run<TDims>(ArrayView<float> partials, ArrayView<float> output, ArrayView<int> blocks, int splits, int rowsPerGroup, TDims dims)
        where TDims : struct, IQwen2Dims
    {
        int first = blocks[2 * Grid.IdxX], count = blocks[2 * Grid.IdxX + 1];
        int kvHead = Grid.IdxY;
        int g = dims.GroupSize, d = dims.HeadDim;
        int lane = Warp.LaneIdx;
        int groups = (Grid.IdxX * Grid.DimY + kvHead) * splits;
        int stride = rowsPerGroup * ExtendAttentionKernel.PartialSize;
        for (int row = Warp.WarpIdx; row < count * g; row += Group.DimX / 32)
        {
            int rowAt = (groups * rowsPerGroup + row) * ExtendAttentionKernel.PartialSize;
            // The ranges' maxima and sums are read a range per lane, all at once: one round trip to memory, not one
            // per range (a batch-1 decode over 1,000 keys has 11 ranges).
            float max = float.NegativeInfinity;
            for (int s = lane; s < splits; s += 32) max = XMath.Max(max, partials[rowAt + s * stride]);
            max = KernelMath.WarpMax(max);
            float sum = 0f, o0 = 0f, o1 = 0f, o2 = 0f, o3 = 0f;
            for (int s0 = 0; s0 < splits; s0 += 32)
            {
                int mine = s0 + lane;
                float m = mine < splits ? partials[rowAt + mine * stride] : float.NegativeInfinity;
                // A range the row saw nothing of has m = -inf, so weight 0 (its stored sum and output are 0).
                float scale = m == float.NegativeInfinity ? 0f : XMath.Exp(m - max);
                if (mine < splits) sum += partials[rowAt + mine * stride + 1] * scale;
                int n = XMath.Min(32, splits - s0);
                int at = rowAt + s0 * stride + 2 + lane;
                // Two ranges a step, their loads issued together.
                int j = 0;
                for (; j + 2 <= n; j += 2, at += 2 * stride)
                {
                    float w0 = Warp.Shuffle(scale, j), w1 = Warp.Shuffle(scale, j + 1);
                    if (lane < d) o0 += partials[at] * w0 + partials[at + stride] * w1;
                    if (lane + 32 < d) o1 += partials[at + 32] * w0 + partials[at + stride + 32] * w1;
                    if (lane + 64 < d) o2 += partials[at + 64] * w0 + partials[at + stride + 64] * w1;
                    if (lane + 96 < d) o3 += partials[at + 96] * w0 + partials[at + stride + 96] * w1;
                }
                if (j < n)
                {
                    float w = Warp.Shuffle(scale, j);
                    if (lane < d) o0 += partials[at] * w;
                    if (lane + 32 < d) o1 += partials[at + 32] * w;
                    if (lane + 64 < d) o2 += partials[at + 64] * w;
                    if (lane + 96 < d) o3 += partials[at + 96] * w;
                }
            }
            sum = KernelMath.WarpSum(sum);
            int outAt = (first + row / g) * dims.QSize + (kvHead * g + row % g) * d + lane;
            float inverse = 1f / sum;
            if (lane < d) output[outAt] = o0 * inverse;
            if (lane + 32 < d) output[outAt + 32] = o1 * inverse;
            if (lane + 64 < d) output[outAt + 64] = o2 * inverse;
            if (lane + 96 < d) output[outAt + 96] = o3 * inverse;
        }
    }
}
