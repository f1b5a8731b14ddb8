using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Specialized.Kernels;

namespace Specialized.Benchmarks.Gpu;

/// <summary>
/// The decode GEMV on each projection of the Qwen2.5-0.5B shape: it streams the weights once, so GB/s of
/// weight bytes against the card's bandwidth (3.35 TB/s on an H100) is how close it runs to its limit.
/// </summary>
[Config(typeof(Config))]
public class GpuGemvBenchmarks
{
    private const int Launches = 16;

    private CudaDevice _device = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> _x = null!, _y = null!, _bias = null!;
    private MemoryBuffer1D<ushort, Stride1D.Dense> _w = null!;
    private Gemvs _gemv = null!;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    public static IEnumerable<GemmShape> Shapes => GemmShape.WithLmHead;

    /// <summary>Batch-1 decode, and a batch of 64 (compare the tensor-core GEMM at 64 tokens).</summary>
    [Params(1, 64)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _device = new CudaDevice();
        Accelerator a = _device.Accelerator;
        var rng = new Random(1);
        _x = a.Allocate1D(Enumerable.Range(0, Tokens * Shape.InDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
        _w = a.Allocate1D(Enumerable.Range(0, Shape.OutDim * Shape.InDim).Select(_ => (ushort)(BitConverter.SingleToUInt32Bits((float)(rng.NextDouble() * 0.1 - 0.05)) >> 16)).ToArray());
        _bias = a.Allocate1D<float>(1);
        _y = a.Allocate1D<float>((long)Tokens * Shape.OutDim);
        _gemv = Gemvs.Load<Float32Kv>(new KernelLoader(a));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _w.Dispose();
        _bias.Dispose();
        _y.Dispose();
        _device.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Launches)]
    public void Gemv()
    {
        Accelerator a = _device.Accelerator;
        for (int i = 0; i < Launches; i++)
        {
            _gemv.Run(a.DefaultStream, _x.View, default, ((ArrayView<ushort>)_w.View).Cast<Bf16x8>(), _bias.View, false, _y.View, Tokens, Shape.InDim,
                Shape.OutDim, GemvEpilogue.Store, 0f, a.NumMultiprocessors, LinearKernel.MaxGroupSize);
        }
        _device.Accelerator.Synchronize();
    }

    private sealed class Config : GpuJobConfig
    {
        public Config()
        {
            AddColumn(new RateColumn("GB/s", "bf16 weight bytes per second / 10^9 (read once per 4 tokens, so above 1 token this is an effective rate)", 1e9,
                c => 2.0 * ((GemmShape)c.Parameters["Shape"]).OutDim * ((GemmShape)c.Parameters["Shape"]).InDim));
        }
    }
}
