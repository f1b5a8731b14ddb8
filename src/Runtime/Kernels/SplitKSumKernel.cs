using ILGPU;
using ILGPU.Backends.EntryPoints;

namespace Specialized.Kernels;

/// <summary>
/// Y = Σ_z partials[z] (+ bias) (with <c>accumulate</c>, added to what Y holds): the reduction after a tensor-core GEMM that split K (<see cref="TensorCoreGemmKernel"/>),
/// over its [splits, tokens, outDim] partial sums in order z = 0, 1, ..., so a result does not depend on which block
/// finished first. A thread takes four adjacent outputs (outDim is a multiple of 4 whenever K is split). With
/// <c>siluPairs</c> the planes hold the gate/up columns of <see cref="TensorCoreGemmKernel.PairedRow"/>, and Y
/// [tokens, outDim / 2] = silu(gate)·up: a thread sums a gate quad and the up quad eight columns after it.
/// </summary>
internal static class SplitKSumKernel
{
    /// <param name="quads">Quads of one plane: tokens · outDim / 4.</param>
    [KernelName("SplitKSumKernel")]
    public static void Run(ArrayView<Float4> partials, ArrayView<float> bias, int hasBias, int accumulate, int siluPairs, ArrayView<Float4> y,
        int quads, int splits, int outDim)
    {
        int i = Grid.GlobalIndex.X;
        if (siluPairs != 0)
        {
            if (i >= quads / 2) return;
            int width = outDim >> 1, element = 4 * i, row = element / width, column = element % width;
            int gate = (row * outDim + TensorCoreGemmKernel.GateColumn(column)) >> 2;
            Float4 g = Sum(partials, gate, quads, splits), u = Sum(partials, gate + 2, quads, splits);
            y[i] = new Float4 { A = KernelMath.SiluMul(g.A, u.A), B = KernelMath.SiluMul(g.B, u.B), C = KernelMath.SiluMul(g.C, u.C), D = KernelMath.SiluMul(g.D, u.D) };
            return;
        }
        if (i >= quads) return;
        Float4 sum = Sum(partials, i, quads, splits);
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

    /// <summary>Quad <paramref name="at"/> summed over the planes, in plane order.</summary>
    private static Float4 Sum(ArrayView<Float4> partials, int at, int quads, int splits)
    {
        Float4 sum = partials[at];
        for (int z = 1; z < splits; z++)
        {
            Float4 p = partials[z * quads + at];
            sum.A += p.A;
            sum.B += p.B;
            sum.C += p.C;
            sum.D += p.D;
        }
        return sum;
    }
}
