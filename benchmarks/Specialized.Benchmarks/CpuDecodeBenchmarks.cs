using BenchmarkDotNet.Attributes;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Benchmarks;

/// <summary>
/// Batch-1 decode on the CPU backend for the Qwen2.5-0.5B-Instruct shape (random bf16 weights), next to its bound:
/// streaming the same number of weight bytes once through all cores. Decode reads every weight once per token, so
/// <see cref="StreamWeightBytes"/> (the baseline) over <see cref="DecodeStep"/> is the fraction of the memory-bandwidth
/// limit reached; the ratio column shows it inverted.
/// </summary>
[MemoryDiagnoser]
public class CpuDecodeBenchmarks
{
    private const int Context = 128;

    private string _folder = null!;
    private LoadedModel _model = null!;
    private byte[] _bytes = null!;
    private int _position;

    [GlobalSetup]
    public void Setup()
    {
        BuiltInModels.Register();
        _folder = Path.Combine(Path.GetTempPath(), "specialized-bench-qwen2.5-0.5b");
        if (!File.Exists(Path.Combine(_folder, "model.safetensors")))
        {
            RandomCheckpoint.Write(File.ReadAllText(Path.Combine(RepoFiles.Models, "Qwen2.5-0.5B-Instruct", "config.json")), _folder, seed: 1);
        }
        _model = ModelLoader.Load(_folder, new CpuBackend(), _ => new RunnerOptions(Context, 1, new KvCacheLayout(Context / 16 + 1, 16), Context + 16));
        ModelSpec spec = _model.Runner.Spec;
        long weightBytes = 2 * spec.ParameterCount;
        _bytes = new byte[weightBytes];
        new Random(1).NextBytes(_bytes);

        // A prompt in the cache, so each step attends to a realistic context.
        int[] prompt = Enumerable.Range(0, Context - 1).Select(i => (i * 7919) % spec.VocabSize).ToArray();
        _model.Runner.Forward(Step(prompt, 0));
        _position = Context - 1;
        Console.WriteLine($"// {spec.ParameterCount:N0} parameters, {weightBytes / 1e9:F2} GB of bf16 weights read per token; {_model.Description}");
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    /// <summary>One token through all 24 layers and the LM head, reusing the last cache slot so the context stays 128.</summary>
    [Benchmark]
    public float DecodeStep() => _model.Runner.Forward(Step([42], _position)).Logits.Span[0];

    /// <summary>Reads as many bytes as the model has weight bytes, split across cores: the memory-bandwidth bound.</summary>
    [Benchmark(Baseline = true)]
    public long StreamWeightBytes()
    {
        int parts = Environment.ProcessorCount;
        long chunk = _bytes.LongLength / parts;
        long total = 0;
        Parallel.For(0, parts, p =>
        {
            ReadOnlySpan<byte> span = _bytes.AsSpan((int)(p * chunk), (int)chunk);
            ReadOnlySpan<long> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span);
            long sum = 0;
            foreach (long w in words) sum ^= w;
            Interlocked.Add(ref total, sum);
        });
        return total;
    }

    private static ForwardBatch Step(int[] tokens, int cached)
    {
        int[] pages = Enumerable.Range(0, Context / 16 + 1).ToArray();
        return new ForwardBatch(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [pages], 16, [tokens.Length - 1]);
    }
}
