using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>
/// The index of each row's largest value (the lowest index among ties, as the host sampler picks), one group of 256
/// threads a row: greedy decoding then copies one int per request instead of a whole row of logits.
/// </summary>
internal static class ArgMaxKernel
{
    public const int GroupSize = 256;

    [KernelName("ArgMaxKernel")]
    public static void Run(ArrayView<float> logits, ArrayView<int> result, int width)
    {
        ArrayView<float> values = SharedMemory.Allocate<float>(GroupSize);
        ArrayView<int> indices = SharedMemory.Allocate<int>(GroupSize);
        int row = Grid.IdxX, t = Group.IdxX;
        int start = row * width;
        float best = float.NegativeInfinity;
        int at = int.MaxValue;
        for (int i = t; i < width; i += Group.DimX)
        {
            float v = logits[start + i];
            if (v > best) { best = v; at = i; }
        }
        values[t] = best;
        indices[t] = at;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride >>= 1)
        {
            if (t < stride)
            {
                float other = values[t + stride];
                int otherAt = indices[t + stride];
                if (other > values[t] || (other == values[t] && otherAt < indices[t]))
                {
                    values[t] = other;
                    indices[t] = otherAt;
                }
            }
            Group.Barrier();
        }
        if (t == 0) result[row] = indices[0];
    }
}
