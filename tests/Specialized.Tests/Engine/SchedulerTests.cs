using Microsoft.Extensions.Logging.Abstractions;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Sampling;
using Specialized.Scheduling;

namespace Specialized.Tests.Engine;

/// <summary>The scheduler's steps as the model runner sees them, through a runner that records each batch and computes nothing.</summary>
public sealed class SchedulerTests
{
    [Fact]
    public async Task A_long_prompt_is_prefilled_in_chunks_of_at_most_the_chunk_size_while_others_decode()
    {
        var limits = new SchedulerLimits(MaxRunningRequests: 4, PrefillTokens: 8, RadixCache: false);
        using var runner = new RecordingRunner(limits.StepTokens, limits.MaxRunningRequests, new KvCacheLayout(NumPages: 64, PageSize: 4));
        Request[] requests;
        using (var scheduler = new Scheduler(runner, limits, NullLogger.Instance))
        {
            // Prompt k is all token k and every sampled token is 0, so a batch's prefill tokens are its non-zero ones.
            requests = [Submit(scheduler, 1, 2, maxNew: 30), Submit(scheduler, 2, 2, maxNew: 30), Submit(scheduler, 3, 2, maxNew: 30), Submit(scheduler, 4, 40, maxNew: 2)];
            // Held until now, the first step cannot let the short requests finish before the long one is queued.
            runner.Start();
            await Task.WhenAll(requests.Select(r => r.Completion.Task)).WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.All(requests, r => Assert.Equal(FinishType.Length, r.Finish!.Type));
        Assert.All(runner.Batches, b => Assert.InRange(b.Count(t => t != 0), 0, 8));
        Assert.All(runner.Batches, b => Assert.InRange(b.Length, 1, runner.Options.MaxBatchTokens));
        int[] chunks = runner.Batches.Select(b => b.Count(t => t == 4)).Where(n => n > 0).ToArray();
        Assert.Equal(40, chunks.Sum());
        // Decode tokens ride beside a full chunk instead of shrinking it.
        Assert.Contains(runner.Batches, b => b.Count(t => t == 4) == 8 && b.Contains(0));
    }

    private static Request Submit(Scheduler scheduler, int token, int length, int maxNew)
    {
        var parameters = new SamplingParams { Temperature = 0, MaxNewTokens = maxNew };
        int[] prompt = Enumerable.Repeat(token, length).ToArray();
        var stopIds = new HashSet<int>();
        var request = new Request($"r{token}", token, prompt, parameters, maxNew, new TokenSampler(parameters, RecordingRunner.Vocab, 0, stopIds, prompt),
            stopIds, tokenizer: null, stream: null);
        scheduler.Submit(request);
        return request;
    }

    /// <summary>Answers token 0 for every logit row and keeps each batch's token ids; the first step waits for <see cref="Start"/>.</summary>
    private sealed class RecordingRunner(int maxBatchTokens, int maxLogitRows, KvCacheLayout kv) : IModelRunner
    {
        public const int Vocab = 8;
        private readonly ManualResetEventSlim _started = new();
        private readonly CpuBackend _backend = new();

        public List<int[]> Batches { get; } = [];

        public ModelSpec Spec { get; } = ModelConfig.Parse($$"""
            {"model_type": "qwen2", "vocab_size": {{Vocab}}, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": true}
            """);

        public RunnerOptions Options { get; } = new(maxBatchTokens, maxLogitRows, kv, MaxPositions: 512);

        public IBackend Backend => _backend;

        public bool IsSpecialized => false;

        public void Start() => _started.Set();

        public ForwardOutput Forward(ForwardBatch batch, bool returnHiddenStates = false)
        {
            Record(batch);
            return new ForwardOutput(new float[batch.LogitRows.Length * Vocab], returnHiddenStates ? new float[batch.TokenIds.Length * Spec.HiddenSize] : default);
        }

        public ReadOnlyMemory<int> ForwardGreedy(ForwardBatch batch)
        {
            Record(batch);
            return new int[batch.LogitRows.Length];
        }

        private void Record(ForwardBatch batch)
        {
            _started.Wait();
            Batches.Add([.. batch.TokenIds]);
        }

        public void Dispose()
        {
            _started.Dispose();
            _backend.Dispose();
        }
    }
}
