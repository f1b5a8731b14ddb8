using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using Specialized.Text;

namespace Specialized.Benchmarks;

/// <summary>Encode throughput of the Qwen2 tokenizer on ~1 MB of mixed text (<see cref="RepoFiles.BenchmarkText"/>).</summary>
[Config(typeof(Config))]
public class TokenizerBenchmarks
{
    private Qwen2Tokenizer _tokenizer = null!;
    private string _text = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tokenizer = Qwen2Tokenizer.Load(RepoFiles.QwenTokenizer);
        _text = RepoFiles.BenchmarkText;
    }

    [Benchmark]
    public int Encode() => _tokenizer.Encode(_text).Length;

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddColumn(new RateColumn("MB/s", "UTF-8 megabytes (10^6 bytes) of input encoded per second, from the mean time", 1e6, _ => RepoFiles.BenchmarkTextUtf8Bytes));
            AddDiagnoser(MemoryDiagnoser.Default);
        }
    }
}
