using ILGPU;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// RoPE fused with the KV-cache write. One thread per (token, head, i &lt; d/2) over the q, k and v heads of the
/// fused projection: q and k pairs (i, i + d/2) are rotated in place (neox layout) and rotated k is stored in the
/// token's cache slot; v is copied to the slot as is.
/// </summary>
internal static class RopeKvKernel
{
    [KernelName("RopeKvKernel")]
    public static void Run<TDims>(ArrayView<float> qkv, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<float> cos, ArrayView<float> sin, ArrayView<int> positions, ArrayView<int> slots, int tokens, TDims dims)
        where TDims : struct, IQwen2Dims
    {
        int d = dims.HeadDim, half = d / 2;
        int heads = dims.NumHeads, kvHeads = dims.NumKvHeads;
        int perToken = (heads + 2 * kvHeads) * half;
        int index = Grid.GlobalIndex.X;
        if (index >= tokens * perToken) return;
        int t = index / perToken;
        int rest = index - t * perToken;
        int head = rest / half, i = rest - head * half;
        int at = t * dims.QkvSize + head * d + i;
        int slot = slots[t];

        if (head >= heads + kvHeads)
        {
            int v = slot * dims.KvSize + (head - heads - kvHeads) * d + i;
            values[v] = qkv[at];
            values[v + half] = qkv[at + half];
            return;
        }

        int angle = positions[t] * half + i;
        float c = cos[angle], s = sin[angle];
        float x1 = qkv[at], x2 = qkv[at + half];
        float r1 = x1 * c - x2 * s, r2 = x2 * c + x1 * s;
        qkv[at] = r1;
        qkv[at + half] = r2;
        if (head >= heads)
        {
            int k = slot * dims.KvSize + (head - heads) * d + i;
            keys[k] = r1;
            keys[k + half] = r2;
        }
    }
}
