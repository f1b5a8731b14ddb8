using ILGPU;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// RoPE fused with the KV-cache write. One thread per (token, head, even i &lt; d/2) over the q, k and v heads of the
/// fused projection: q and k pairs (i, i + d/2) and (i + 1, i + 1 + d/2) are rotated in place (neox layout) and the
/// rotated k stored in the token's cache slot; v is copied to the slot as is. Each thread stores two element pairs,
/// so a bf16 cache (<typeparamref name="TKv"/>) takes whole 32-bit words. Needs d a multiple of 4.
/// </summary>
internal static class RopeKvKernel
{
    [KernelName("RopeKvKernel")]
    public static void Run<TDims, TKv>(ArrayView<float> qkv, ArrayView<float> keys, ArrayView<float> values,
        ArrayView<float> cos, ArrayView<float> sin, ArrayView<int> positions, ArrayView<int> slots, int tokens, TDims dims)
        where TDims : struct, IQwen2Dims where TKv : struct, IKvFormat
    {
        int d = dims.HeadDim, half = d / 2, pairs = half / 2;
        int heads = dims.NumHeads, kvHeads = dims.NumKvHeads;
        int perToken = (heads + 2 * kvHeads) * pairs;
        int index = Grid.GlobalIndex.X;
        if (index >= tokens * perToken) return;
        int t = index / perToken;
        int rest = index - t * perToken;
        int head = rest / pairs, i = 2 * (rest - head * pairs);
        int at = t * dims.QkvSize + head * d + i;
        int slot = slots[t];
        TKv cache = default;

        if (head >= heads + kvHeads)
        {
            int v = slot * dims.KvSize + (head - heads - kvHeads) * d + i;
            cache.Store2(values, v, qkv[at], qkv[at + 1]);
            cache.Store2(values, v + half, qkv[at + half], qkv[at + half + 1]);
            return;
        }

        int angle = positions[t] * half + i;
        float c0 = cos[angle], s0 = sin[angle], c1 = cos[angle + 1], s1 = sin[angle + 1];
        float x1 = qkv[at], x2 = qkv[at + half], y1 = qkv[at + 1], y2 = qkv[at + half + 1];
        float r1 = x1 * c0 - x2 * s0, r2 = x2 * c0 + x1 * s0;
        float u1 = y1 * c1 - y2 * s1, u2 = y2 * c1 + y1 * s1;
        qkv[at] = r1;
        qkv[at + half] = r2;
        qkv[at + 1] = u1;
        qkv[at + half + 1] = u2;
        if (head >= heads)
        {
            int k = slot * dims.KvSize + (head - heads) * d + i;
            cache.Store2(keys, k, r1, u1);
            cache.Store2(keys, k + half, r2, u2);
        }
    }
}
