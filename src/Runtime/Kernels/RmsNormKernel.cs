using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// One group a row: output = input / sqrt(mean(input²) + eps) * weight, normalising before scaling as Hugging Face does.
/// The final norm, and the norm before a projection whose kernel cannot fold it in (the SIMT GEMM).
/// </summary>
internal static class RmsNormKernel
{
    [KernelName("RmsNormKernel")]
    public static void Run<TDims>(ArrayView<float> input, ArrayView<float> weight, ArrayView<float> output, TDims dims) where TDims : struct, IQwen2Dims
    {
        int h = dims.HiddenSize;
        int rowStart = Grid.IdxX * h;
        float squares = 0f;
        for (int i = Group.IdxX; i < h; i += Group.DimX)
        {
            float v = input[rowStart + i];
            squares += v * v;
        }
        float inv = XMath.Rsqrt(KernelMath.GroupSum(squares) / h + dims.RmsNormEps);
        for (int i = Group.IdxX; i < h; i += Group.DimX)
        {
            output[rowStart + i] = input[rowStart + i] * inv * weight[i];
        }
    }
}
