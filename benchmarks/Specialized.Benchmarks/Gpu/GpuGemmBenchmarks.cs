using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Specialized.Kernels;

namespace Specialized.Benchmarks.Gpu;

/// <summary>
/// The GEMMs of a Qwen2.5-0.5B layer at 4096 tokens (prefill) and 64 (a decode batch): the SIMT tiled GEMM (baseline) against the tensor-core
/// GEMM with float32-faithful split activations (the engine's) and with bf16-rounded activations (PyTorch's bf16
/// arithmetic), in 128 x 128 tiles (<see cref="SquareTiles"/>, the engine's), 128 x 256 (<see cref="WideTiles"/>) and 256 x 128 (<see cref="TallTiles"/>), each with the activation pass before it and, where the grid is small, its split of K and the sum after. Each operation is <see cref="Launches"/> launches and one synchronisation. TFLOP/s counts 2·M·N·K;
/// tools/device/gpu-bench.sh times torch.matmul on the same shapes for the ratio the speed issue asks for.
/// </summary>
[Config(typeof(Config))]
public class GpuGemmBenchmarks
{
    private const int Launches = 8;

    private CudaDevice _device = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> _x = null!, _y = null!, _bias = null!;
    private MemoryBuffer1D<ushort, Stride1D.Dense> _w = null!;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, ArrayView<float>, int, int, int> _simt = null!;
    private MemoryBuffer1D<ushort, Stride1D.Dense> _terms = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> _partials = null!;
    private TensorCoreGemms _split = null!, _rounded = null!, _splitWide = null!, _roundedWide = null!, _splitTall = null!, _roundedTall = null!;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = null!;

    /// <summary>
    /// A prefill (4096), a decode batch of 512 requests (the offline benchmark's regime) and one of 64; or the list in
    /// SPECIALIZED_GEMM_TOKENS (e.g. "4096"), for a device call short of time.
    /// </summary>
    [ParamsSource(nameof(TokenCounts))]
    public int Tokens { get; set; }

    public static IEnumerable<int> TokenCounts =>
        Environment.GetEnvironmentVariable("SPECIALIZED_GEMM_TOKENS") is { Length: > 0 } list ? list.Split(',').Select(int.Parse) : [64, 512, 4096];

    public static IEnumerable<GemmShape> Shapes => GemmShape.LayerProjections;

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
        _simt = a.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, ArrayView<float>, int, int, int>(GemmKernel.Run);
        _terms = a.Allocate1D<ushort>(2L * Tokens * Shape.InDim);
        var kernels = new KernelLoader(a);
        _split = TensorCoreGemms.Load<SplitActivations, PtxMma, SquareTiles>(kernels);
        _rounded = TensorCoreGemms.Load<RoundedActivations, PtxMma, SquareTiles>(kernels);
        _splitWide = TensorCoreGemms.Load<SplitActivations, PtxMma, WideTiles>(kernels);
        _roundedWide = TensorCoreGemms.Load<RoundedActivations, PtxMma, WideTiles>(kernels);
        _splitTall = TensorCoreGemms.Load<SplitActivations, PtxMma, TallTiles>(kernels);
        _roundedTall = TensorCoreGemms.Load<RoundedActivations, PtxMma, TallTiles>(kernels);
        _partials = a.Allocate1D<float>(new[] { _split, _splitWide, _splitTall }.Max(g => g.MaxPartialFloats(a.NumMultiprocessors)));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x.Dispose();
        _w.Dispose();
        _bias.Dispose();
        _y.Dispose();
        _terms.Dispose();
        _partials.Dispose();
        _device.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Launches)]
    public void Simt()
    {
        var tiles = new Index2D((Shape.OutDim + GemmKernel.Tile - 1) / GemmKernel.Tile, (Tokens + GemmKernel.Tile - 1) / GemmKernel.Tile);
        for (int i = 0; i < Launches; i++)
        {
            _simt(_device.Accelerator.DefaultStream, new KernelConfig(tiles, new Index2D(GemmKernel.GroupSize, 1)), _x.View, _w.View, _bias.View, 0, 0,
                _y.View, Tokens, Shape.InDim, Shape.OutDim);
        }
        _device.Accelerator.Synchronize();
    }

    /// <summary>The engine's default: the activations split into hi and lo bf16 terms, then the GEMM over both.</summary>
    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreSplit() => TensorCore(_split);

    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreRounded() => TensorCore(_rounded);

    /// <summary>The same in 128 x 256 tiles of 8 warps, one group an SM.</summary>
    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreSplitWide() => TensorCore(_splitWide);

    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreRoundedWide() => TensorCore(_roundedWide);

    /// <summary>The same in 256 x 128 tiles of 8 warps, one group an SM.</summary>
    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreSplitTall() => TensorCore(_splitTall);

    [Benchmark(OperationsPerInvoke = Launches)]
    public void TensorCoreRoundedTall() => TensorCore(_roundedTall);

    /// <summary>Launches as the engine does (<see cref="TensorCoreGemms.Run"/>: terms, GEMM, split-K sum; all timed).</summary>
    private void TensorCore(TensorCoreGemms gemms)
    {
        for (int i = 0; i < Launches; i++)
        {
            gemms.Run(_device.Accelerator.DefaultStream, _x.View, _terms.View, ((ArrayView<ushort>)_w.View).Cast<Bf16x8>(), _bias.View, false, _y.View,
                _partials.View, Tokens, Shape.InDim, Shape.OutDim, _device.Accelerator.NumMultiprocessors);
        }
        _device.Accelerator.Synchronize();
    }

    private sealed class Config : GpuJobConfig
    {
        public Config()
        {
            AddColumn(new RateColumn("TFLOP/s", "2·tokens·out·in floating-point operations per second / 10^12", 1e12,
                c => 2.0 * (int)c.Parameters["Tokens"] * ((GemmShape)c.Parameters["Shape"]).OutDim * ((GemmShape)c.Parameters["Shape"]).InDim));
        }
    }
}
