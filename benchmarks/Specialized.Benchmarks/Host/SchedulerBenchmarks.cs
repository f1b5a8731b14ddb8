using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Sampling;
using Specialized.Scheduling;

namespace Specialized.Benchmarks.Host;

/// <summary>
/// The scheduler's own cost per step, with a model runner that computes nothing (greedy steps return token 0 at once):
/// planning the batch, KV pages, the radix cache, sampling bookkeeping and completing requests. The GPU's decode step is
/// a few milliseconds at best and the host must stay well under it; this is the host's share of every step, on the
/// Qwen2.5-0.5B shape (vocabulary 151,936). Each operation runs <see cref="Requests"/> greedy requests of a 128-token
/// prompt and 64 new tokens to the end; the tok/s column counts generated tokens.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class SchedulerBenchmarks
{
    private const int Prompt = 128, NewTokens = 64;

    private Scheduler _scheduler = null!;
    private NullRunner _runner = null!;
    private int[][] _prompts = null!;
    private int _round;

    [Params(1, 64)]
    public int Requests { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        ModelSpec spec = ModelConfig.Load(Path.Combine(RepoFiles.Models, "Qwen2.5-0.5B-Instruct", "config.json"));
        int pages = Requests * (Prompt + NewTokens) / 16 * 2 + 64;
        var limits = new SchedulerLimits(Requests, PrefillTokens: 8192, RadixCache: true);
        _runner = new NullRunner(spec, new RunnerOptions(limits.StepTokens, Requests, new KvCacheLayout(pages, 16), Prompt + NewTokens + 16));
        _scheduler = new Scheduler(_runner, limits, NullLogger.Instance);
        var rng = new Random(1);
        _prompts = Enumerable.Range(0, Requests).Select(_ => Enumerable.Range(0, Prompt).Select(_ => rng.Next(spec.VocabSize)).ToArray()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _scheduler.Dispose();

    [Benchmark]
    public void Generate()
    {
        var parameters = new SamplingParams { Temperature = 0, MaxNewTokens = NewTokens, IgnoreEos = true };
        var requests = new Request[Requests];
        int round = _round++;
        for (int i = 0; i < Requests; i++)
        {
            // A fresh first token each round, so the radix cache can't serve the whole prompt from the last round.
            int[] prompt = (int[])_prompts[i].Clone();
            prompt[0] = round % 1000;
            var sampler = new TokenSampler(parameters, _runner.Spec.VocabSize, seed: i, [], prompt);
            requests[i] = new Request($"r{i}", i, prompt, parameters, NewTokens, sampler, [], tokenizer: null, stream: null);
            _scheduler.Submit(requests[i]);
        }
        foreach (Request r in requests) r.Completion.Task.GetAwaiter().GetResult();
    }

    private sealed class Config : BenchmarkDotNet.Configs.ManualConfig
    {
        public Config()
        {
            AddColumn(new RateColumn("tok/s", "generated tokens per second (the host alone)", 1,
                c => (int)c.Parameters["Requests"] * (double)NewTokens));
        }
    }

    /// <summary>A runner with the real model's shape and no model: every greedy step picks token 0 at once.</summary>
    private sealed class NullRunner(ModelSpec spec, RunnerOptions options) : IModelRunner
    {
        private readonly int[] _picked = new int[options.MaxLogitRows];
        private readonly float[] _logits = new float[(long)options.MaxLogitRows * spec.VocabSize];

        public ModelSpec Spec => spec;

        public RunnerOptions Options => options;

        public IBackend Backend { get; } = new CpuBackend();

        public bool IsSpecialized => false;

        public ForwardOutput Forward(ForwardBatch batch, bool returnHiddenStates = false) =>
            new(_logits.AsMemory(0, batch.LogitRows.Length * spec.VocabSize), default);

        public ReadOnlyMemory<int> ForwardGreedy(ForwardBatch batch) => _picked.AsMemory(0, batch.LogitRows.Length);

        public void Dispose() => Backend.Dispose();
    }
}
