using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Backends.Cpu;

/// <summary>The managed CPU backend: host memory, SIMD kernels, all cores.</summary>
public sealed class CpuBackend : IBackend
{
    public string Name => "cpu";

    public string Device => $"CPU, {Environment.ProcessorCount} threads, {(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "no 256-bit SIMD")}";

    public long? MemoryBytes => null;

    public Tensor CreateWeight(Parameter parameter, DType preferred, IWeightSource source)
    {
        int[] shape = [.. parameter.Shape];
        // Matrices stay in bfloat16 when the checkpoint has them so (half the bytes per token); vectors and other
        // dtypes become float32, which holds bf16 and fp16 values exactly.
        if (shape.Length == 2 && preferred == DType.BFloat16)
        {
            var t = CpuTensor.BFloat16(shape);
            source.WriteBFloat16(t.Bf16);
            return t;
        }
        var f = CpuTensor.Float32(shape);
        source.WriteFloat32(f.Floats);
        return f;
    }

    public Tensor CreateActivations(int rows, int columns) => CpuTensor.Float32(rows, columns);

    /// <summary>Nothing to compile: the kernels are the JIT's; only the KV cache is allocated.</summary>
    public IQwen2Kernels<TDims> CreateKernels<TDims>(TDims dims, RunnerOptions options, IProgress<EngineLoadProgress>? progress = null) where TDims : struct, IQwen2Dims
    {
        progress?.Report(new EngineLoadProgress(EngineLoadStage.AllocatingKvCache));
        return new CpuKernels<TDims>(dims, options.Kv, options.MaxPositions);
    }

    public void CopyRows(Tensor source, int rows, Span<float> destination)
    {
        CpuTensor t = CpuTensor.Of(source);
        t.F32[..(rows * t.RowLength)].CopyTo(destination);
    }

    public void ArgMaxRows(Tensor source, int rows, Span<int> destination)
    {
        CpuTensor t = CpuTensor.Of(source);
        int width = t.RowLength;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = t.F32.Slice(r * width, width);
            int best = 0;
            for (int i = 1; i < width; i++)
            {
                if (row[i] > row[best]) best = i;
            }
            destination[r] = best;
        }
    }

    public void Dispose() { }
}
