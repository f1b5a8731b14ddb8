using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>
/// Y = Σ_z partials[z] (+ bias) (with <c>accumulate</c>, added to what Y holds): the reduction after a tensor-core GEMM that split K (<see cref="TensorCoreGemmKernel"/>),
/// over its [splits, tokens, outDim] partial sums in order z = 0, 1, ..., so a result does not depend on which block
/// finished first. A thread takes four adjacent outputs (outDim is a multiple of 4 whenever K is split).
/// </summary>
internal static class SplitKSumKernel
{
    [KernelName("SplitKSumKernel")]
    public static void Run(ArrayView<Float4> partials, ArrayView<float> bias, int hasBias, int accumulate, ArrayView<Float4> y, int quads, int splits, int outDim)
    {
        int i = Grid.GlobalIndex.X;
        if (i >= quads) return;
        Float4 sum = partials[i];
        for (int z = 1; z < splits; z++)
        {
            Float4 p = partials[z * quads + i];
            sum.A += p.A;
            sum.B += p.B;
            sum.C += p.C;
            sum.D += p.D;
        }
        if (hasBias != 0)
        {
            int col = 4 * i % outDim;
            sum.A += bias[col];
            sum.B += bias[col + 1];
            sum.C += bias[col + 2];
            sum.D += bias[col + 3];
        }
        if (accumulate != 0)
        {
            Float4 old = y[i];
            sum.A += old.A;
            sum.B += old.B;
            sum.C += old.C;
            sum.D += old.D;
        }
        y[i] = sum;
    }
}
