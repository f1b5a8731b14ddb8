using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using Specialized.Models;

namespace Specialized.Kernels;

/// <summary>
/// One group a row: optionally residual += input first (the fused residual add), then
/// output = residual / sqrt(mean(residual²) + eps) * weight, normalising before scaling as Hugging Face does.
/// </summary>
internal static class RmsNormKernel
{
    [KernelName("RmsNormKernel")]
    public static void Run<TDims>(ArrayView<float> residual, ArrayView<float> input, ArrayView<float> weight,
        ArrayView<float> output, int addInput, TDims dims) where TDims : struct, IQwen2Dims
    {
        int h = dims.HiddenSize;
        int rowStart = Grid.IdxX * h;
        float squares = 0f;
        for (int i = Group.IdxX; i < h; i += Group.DimX)
        {
            float v = residual[rowStart + i];
            if (addInput != 0)
            {
                v += input[rowStart + i];
                residual[rowStart + i] = v;
            }
            squares += v * v;
        }
        float inv = XMath.Rsqrt(KernelMath.GroupSum(squares) / h + dims.RmsNormEps);
        for (int i = Group.IdxX; i < h; i += Group.DimX)
        {
            output[rowStart + i] = residual[rowStart + i] * inv * weight[i];
        }
    }
}
