using BenchmarkDotNet.Attributes;
using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Benchmarks.Gpu;

/// <summary>
/// Whole forward passes of the Qwen2.5-0.5B-Instruct shape (random bf16 weights) on CUDA through the model runner:
/// one decode step at batch 1 after a 128-token prompt (the kernels, launches and the one read-back of the chosen
/// token) and one 1024-token prefill. tok/s is tokens per operation over its mean time; the decode bound from the
/// weights alone is ~3,400 tok/s on an H100 (0.99 GB at 3.35 TB/s). <see cref="CudaGraph"/>: decode steps replayed
/// from a recorded CUDA graph, against launch by launch (the baseline).
/// </summary>
[Config(typeof(Config))]
public class GpuModelBenchmarks
{
    private const int Prompt = 128, PrefillTokens = 1024, PageSize = 16;

    private LoadedModel _model = null!;
    private int[] _pages = null!;
    private int[] _prefill = null!;

    [Params(false, true)]
    public bool CudaGraph { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        BuiltInModels.Register();
        string folder = Path.Combine(Path.GetTempPath(), "specialized-bench-qwen2.5-0.5b");
        if (!File.Exists(Path.Combine(folder, "model.safetensors")))
        {
            RandomCheckpoint.Write(File.ReadAllText(Path.Combine(RepoFiles.Models, "Qwen2.5-0.5B-Instruct", "config.json")), folder, seed: 1);
        }
        int pages = PrefillTokens / PageSize + 1;
        _pages = Enumerable.Range(0, pages).ToArray();
        _model = ModelLoader.Load(folder, IlgpuBackend.CreateCuda(), _ => new RunnerOptions(PrefillTokens, 1, new KvCacheLayout(pages, PageSize), PrefillTokens + PageSize,
            CudaGraphMaxBatch: CudaGraph ? 1 : 0));
        int vocab = _model.Runner.Spec.VocabSize;
        _prefill = Enumerable.Range(0, PrefillTokens).Select(i => (i * 7919) % vocab).ToArray();
        _model.Runner.Forward(Batch(_prefill[..(Prompt - 1)], 0));
        Console.WriteLine($"// {_model.Description}");
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    /// <summary>One token at position 127 (rewriting the same cache slot, so the context stays 128), greedy on the device.</summary>
    [Benchmark]
    public int DecodeStep() => _model.Runner.ForwardGreedy(Batch([42], Prompt - 1)).Span[0];

    [Benchmark]
    public int Prefill() => _model.Runner.ForwardGreedy(Batch(_prefill, 0)).Span[0];

    private ForwardBatch Batch(int[] tokens, int cached) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [_pages], PageSize, [tokens.Length - 1]);

    private sealed class Config : GpuJobConfig
    {
        public Config()
        {
            AddColumn(new RateColumn("tok/s", "tokens through the model per second", 1,
                c => c.Descriptor.WorkloadMethod.Name == nameof(Prefill) ? PrefillTokens : 1));
        }
    }
}
