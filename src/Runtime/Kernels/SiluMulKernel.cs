using ILGPU;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// output[t, i] = silu(gate[t, i]) · up[t, i], where gateUp rows are [gate | up]. One thread an element: the SIMT GEMM's
/// path (the GEMV and the tensor-core GEMM apply SiLU in their epilogues).
/// </summary>
internal static class SiluMulKernel
{
    [KernelName("SiluMulKernel")]
    public static void Run<TDims>(ArrayView<float> gateUp, ArrayView<float> output, int tokens, TDims dims)
        where TDims : struct, IQwen2Dims
    {
        int n = dims.IntermediateSize;
        int index = Grid.GlobalIndex.X;
        if (index >= tokens * n) return;
        int t = index / n;
        int at = index + t * n;
        float g = gateUp[at];
        output[index] = KernelMath.SiluMul(g, gateUp[at + n]);
    }
}
