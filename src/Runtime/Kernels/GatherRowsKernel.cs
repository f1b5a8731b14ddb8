using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>output[r, i] = input[rows[r], i]: picks the rows that want logits before the LM head.</summary>
internal static class GatherRowsKernel
{
    [KernelName("GatherRowsKernel")]
    public static void Run(ArrayView<float> input, ArrayView<int> rows, ArrayView<float> output, int count, int width)
    {
        int index = Grid.GlobalIndex.X;
        if (index >= count * width) return;
        int r = index / width;
        output[index] = input[rows[r] * width + (index - r * width)];
    }
}
