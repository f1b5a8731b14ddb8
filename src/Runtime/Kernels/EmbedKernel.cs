using ILGPU;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>output[t, i] = table[ids[t], i]: a gather of bfloat16 rows into float32. One thread an element.</summary>
internal static class EmbedKernel
{
    [KernelName("EmbedKernel")]
    public static void Run<TDims>(ArrayView<ushort> table, ArrayView<int> ids, ArrayView<float> output, int tokens, TDims dims)
        where TDims : struct, IQwen2Dims
    {
        int index = Grid.GlobalIndex.X;
        int h = dims.HiddenSize;
        if (index >= tokens * h) return;
        int t = index / h;
        output[index] = KernelMath.Bf16(table[ids[t] * h + (index - t * h)]);
    }
}
