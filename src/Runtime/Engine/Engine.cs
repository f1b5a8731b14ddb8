using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Specialized.Backends;
using Specialized.Models;
using Specialized.Sampling;
using Specialized.Scheduling;
using Specialized.Text;

namespace Specialized;

/// <summary>
/// The offline engine: SGLang's <c>sgl.Engine</c> in C#. One scheduler thread batches every request continuously
/// over a paged KV cache with a radix prefix cache; callers on any thread generate synchronously, asynchronously,
/// or as streams. Invalid requests throw <see cref="ArgumentException"/> before anything is queued; a prompt too
/// long for the context ends with <see cref="FinishType.Abort"/> and a message, and the others go on.
/// </summary>
public sealed class Engine : IDisposable, IAsyncDisposable
{
    private readonly IBackend _backend;
    private readonly LoadedModel _model;
    private readonly Scheduler _scheduler;
    private readonly EngineTelemetry _telemetry;
    private readonly HashSet<int> _eosTokenIds;
    private readonly long _seedBase;
    private long _requests;
    private int _disposed;

    private Engine(string modelPath, EngineOptions options)
    {
        options.Validate();
        Options = options;
        ModelPath = modelPath;
        ILoggerFactory loggers = options.LoggerFactory ?? NullLoggerFactory.Instance;
        ILogger logger = new LevelFilteredLogger(loggers.CreateLogger("Specialized.Engine"), options.LogLevel);
        ModelRegistry.DiscoverModelAssemblies();

        options.Progress?.Report(new EngineLoadProgress(EngineLoadStage.ReadingConfig));
        ModelSpec spec;
        try
        {
            spec = ModelConfig.Load(modelPath);
        }
        catch (ModelConfigException e)
        {
            string known = string.Join(", ", ModelRegistry.Models.Select(m => m.Name).Order(StringComparer.Ordinal));
            throw new ModelConfigException(e.Path, e.Diagnostics,
                $"This build runs Qwen2ForCausalLM checkpoints: specialized for {(known.Length == 0 ? "no config" : known)}, any other valid Qwen2 config on generic kernels.");
        }
        ContextLength = options.ContextLength ?? spec.MaxPositionEmbeddings;
        if (ContextLength > spec.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"ContextLength {ContextLength} is longer than the model's max_position_embeddings ({spec.MaxPositionEmbeddings}).");
        }
        // Reading tokenizer.json takes about a second; it overlaps loading the weights and compiling the kernels.
        Task<Qwen2Tokenizer?> tokenizer = Task.Run(() => File.Exists(Path.Combine(modelPath, "tokenizer.json")) ? Qwen2Tokenizer.Load(modelPath) : null);

        options.Progress?.Report(new EngineLoadProgress(EngineLoadStage.StartingDevice));
        try
        {
            _backend = BackendSelector.Create(options.Device, options.KernelCacheDirectory is { Length: > 0 } cache ? new Kernels.PtxCache(cache) : null);
        }
        catch
        {
            Observe(tokenizer);
            throw;
        }
        try
        {
            bool gpu = _backend.Name == "cuda";
            int maxRunning = options.MaxRunningRequests ?? (gpu ? 1024 : 32);
            int chunk = options.ChunkedPrefillSize ?? (gpu ? 8192 : 512);
            var limits = new SchedulerLimits(maxRunning, chunk == -1 ? ContextLength : chunk, !options.DisableRadixCache);
            int kvTokens = options.MaxTotalTokens ?? DefaultKvTokens(spec, limits.StepTokens, maxRunning, options.MemoryFraction, options.KvCacheDtype);
            int pageSize = options.PageSize;
            int graphBatch = options.DisableCudaGraph ? 0 : Math.Min(options.CudaGraphMaxBatchSize ?? 256, maxRunning);
            var kv = new KvCacheLayout((kvTokens + pageSize - 1) / pageSize, pageSize, options.KvCacheDtype);
            var runnerOptions = new RunnerOptions(limits.StepTokens, maxRunning, kv, ContextLength,
                graphBatch, BackgroundCompile: true, Bf16Activations: options.Bf16Activations);
            _model = ModelLoader.Load(modelPath, _backend, _ => runnerOptions, options.Progress);
            foreach (var warning in _model.Warnings) logger.LogWarning("{Warning}", warning);
            logger.LogInformation("Loaded {Model} on {Device}: {Description}; KV cache {Tokens} tokens", modelPath, _backend.Device, _model.Description, kvTokens);

            Tokenizer = tokenizer.GetAwaiter().GetResult();
            _eosTokenIds = EosTokens.Of(modelPath, spec, Tokenizer);
            _seedBase = options.RandomSeed ?? Random.Shared.NextInt64();
            _scheduler = new Scheduler(_model.Runner, limits, logger);
            _telemetry = new EngineTelemetry(GetMetrics, logger, options.MetricsLogInterval);
        }
        catch
        {
            Observe(tokenizer);
            _model?.Dispose();
            _backend.Dispose();
            throw;
        }
        options.Progress?.Report(new EngineLoadProgress(EngineLoadStage.Ready));
    }

    /// <summary>When creation fails for another reason, a failed tokenizer load is not left unobserved.</summary>
    private static void Observe(Task task) => task.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);

    /// <summary>Loads a checkpoint folder (config.json, safetensors, tokenizer files) and starts the scheduler.</summary>
    public static Engine Create(string modelPath, EngineOptions? options = null) => new(modelPath, options ?? new EngineOptions());

    /// <summary><see cref="Create"/> off the calling thread: loading weights and compiling kernels takes seconds.</summary>
    public static Task<Engine> CreateAsync(string modelPath, EngineOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Create(modelPath, options), cancellationToken);

    public EngineOptions Options { get; }

    /// <summary>The checkpoint folder the engine was created from (SGLang's <c>model_path</c>).</summary>
    public string ModelPath { get; }

    public ModelSpec Spec => _model.Runner.Spec;

    /// <summary>Which code runs the model: a specialized build or the generic kernels.</summary>
    public string ModelDescription => _model.Description;

    /// <summary>"cpu" or "cuda".</summary>
    public string Device => _backend.Name;

    /// <summary>
    /// Completes when the kernels that compile after <see cref="Create"/> returns are ready (on CUDA the tensor-core
    /// GEMM and attention, which a first token does not need): until then requests are served, on slower kernels.
    /// Await it before measuring steady-state speed. Faults if that compilation failed.
    /// </summary>
    public Task KernelsCompiled => _model.Runner.KernelsCompiled;

    public int ContextLength { get; }

    /// <summary>The checkpoint's tokenizer; null when it has no tokenizer.json (then prompts are token ids and Text is null).</summary>
    public Qwen2Tokenizer? Tokenizer { get; }

    // ---------------------------------------------------------------- chat

    /// <summary>Renders messages with Qwen2.5's ChatML template (the default system prompt when none is given).</summary>
    public string ApplyChatTemplate(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
        ChatTemplate.Render(messages, addGenerationPrompt);

    // ---------------------------------------------------------------- non-streaming

    public GenerateOutput Generate(string prompt, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(prompt, parameters, cancellationToken));

    public GenerateOutput Generate(IReadOnlyList<int> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(inputIds, parameters, cancellationToken));

    public GenerateOutput Generate(IReadOnlyList<ChatMessage> messages, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(messages, parameters, cancellationToken));

    /// <summary>Outputs in input order; with N &gt; 1, prompt i's samples are at i·N … i·N + N − 1.</summary>
    public IReadOnlyList<GenerateOutput> Generate(IReadOnlyList<string> prompts, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(prompts, parameters, cancellationToken));

    /// <summary>One SamplingParams per prompt.</summary>
    public IReadOnlyList<GenerateOutput> Generate(IReadOnlyList<string> prompts, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(prompts, parameters, cancellationToken));

    public IReadOnlyList<GenerateOutput> Generate(IReadOnlyList<IReadOnlyList<int>> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(inputIds, parameters, cancellationToken));

    /// <summary>One SamplingParams per prompt.</summary>
    public IReadOnlyList<GenerateOutput> Generate(IReadOnlyList<IReadOnlyList<int>> inputIds, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        Wait(GenerateAsync(inputIds, parameters, cancellationToken));

    public async Task<GenerateOutput> GenerateAsync(string prompt, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Single(await GenerateAsync(Prompts([Encode(prompt)], parameters, single: true), cancellationToken).ConfigureAwait(false));

    public async Task<GenerateOutput> GenerateAsync(IReadOnlyList<int> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Single(await GenerateAsync(Prompts([[.. inputIds]], parameters, single: true), cancellationToken).ConfigureAwait(false));

    public Task<GenerateOutput> GenerateAsync(IReadOnlyList<ChatMessage> messages, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(ApplyChatTemplate(messages), parameters, cancellationToken);

    public Task<IReadOnlyList<GenerateOutput>> GenerateAsync(IReadOnlyList<string> prompts, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(Prompts(prompts.Select(Encode).ToList(), parameters, single: false), cancellationToken);

    public Task<IReadOnlyList<GenerateOutput>> GenerateAsync(IReadOnlyList<string> prompts, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        GenerateAsync(Prompts(prompts.Select(Encode).ToList(), parameters), cancellationToken);

    public Task<IReadOnlyList<GenerateOutput>> GenerateAsync(IReadOnlyList<IReadOnlyList<int>> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(Prompts(inputIds.Select(ids => ids.ToArray()).ToList(), parameters, single: false), cancellationToken);

    public Task<IReadOnlyList<GenerateOutput>> GenerateAsync(IReadOnlyList<IReadOnlyList<int>> inputIds, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        GenerateAsync(Prompts(inputIds.Select(ids => ids.ToArray()).ToList(), parameters), cancellationToken);

    // ---------------------------------------------------------------- streaming

    /// <summary>Incremental chunks: text deltas that concatenate to the non-streamed text; the last chunk carries the finish reason.</summary>
    public IEnumerable<StreamChunk> GenerateStream(string prompt, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(prompt, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<int> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(inputIds, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    /// <summary>Chunks of all prompts, interleaved as they come; <see cref="StreamChunk.Index"/> says whose.</summary>
    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<string> prompts, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(prompts, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<IReadOnlyList<int>> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(inputIds, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    /// <summary>One SamplingParams per prompt.</summary>
    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<string> prompts, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(prompts, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<IReadOnlyList<int>> inputIds, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(inputIds, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    public IEnumerable<StreamChunk> GenerateStream(IReadOnlyList<ChatMessage> messages, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(messages, parameters, cancellationToken).ToBlockingEnumerable(cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(string prompt, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Stream(Prompts([Encode(prompt)], parameters, single: true), cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<int> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Stream(Prompts([[.. inputIds]], parameters, single: true), cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<ChatMessage> messages, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateStreamAsync(ApplyChatTemplate(messages), parameters, cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<string> prompts, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Stream(Prompts(prompts.Select(Encode).ToList(), parameters, single: false), cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<IReadOnlyList<int>> inputIds, SamplingParams? parameters = null, CancellationToken cancellationToken = default) =>
        Stream(Prompts(inputIds.Select(ids => ids.ToArray()).ToList(), parameters, single: false), cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<string> prompts, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        Stream(Prompts(prompts.Select(Encode).ToList(), parameters), cancellationToken);

    public IAsyncEnumerable<StreamChunk> GenerateStreamAsync(IReadOnlyList<IReadOnlyList<int>> inputIds, IReadOnlyList<SamplingParams> parameters, CancellationToken cancellationToken = default) =>
        Stream(Prompts(inputIds.Select(ids => ids.ToArray()).ToList(), parameters), cancellationToken);

    // ---------------------------------------------------------------- metrics and lifetime

    /// <summary>
    /// Requests queued and running, KV pages in use, the prefix cache's hit rate, recent throughput and totals since
    /// start. Cheap, from any thread: it reads counters the scheduler keeps and never waits for it.
    /// </summary>
    public EngineMetrics GetMetrics()
    {
        Scheduler s = _scheduler;
        ThroughputMark since = s.ThroughputBase;
        long prompt = s.PromptTokens, generated = s.GeneratedTokens;
        double seconds = Math.Max(System.Diagnostics.Stopwatch.GetElapsedTime(since.Timestamp).TotalSeconds, 1e-9);
        long lookedUp = s.Cache.LookedUpTokens;
        return new EngineMetrics
        {
            QueuedRequests = s.Queued,
            RunningRequests = s.Running,
            UsedKvPages = s.Pool.TotalPages - s.Pool.FreePages,
            CachedKvPages = s.Cache.CachedPages,
            TotalKvPages = s.Pool.TotalPages,
            PageSize = Options.PageSize,
            PrefixCacheHitRate = lookedUp == 0 ? 0 : (double)s.Cache.MatchedTokens / lookedUp,
            PromptThroughput = (prompt - since.PromptTokens) / seconds,
            GenerationThroughput = (generated - since.GeneratedTokens) / seconds,
            FinishedRequests = s.FinishedRequests,
            PromptTokens = prompt,
            GeneratedTokens = generated,
            Retractions = s.Retractions,
        };
    }

    /// <summary>This engine's instruments (meter "Specialized.Engine"), for a MeterListener that wants only them.</summary>
    internal System.Diagnostics.Metrics.Meter Meter => _telemetry.Meter;

    internal Scheduler Scheduler => _scheduler;

    /// <summary>Stops the engine: requests still queued or running end with <see cref="FinishType.Abort"/>.</summary>
    public void Shutdown() => Dispose();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _telemetry.Dispose();
        _scheduler.Dispose();
        _model.Dispose();
        _backend.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    // ---------------------------------------------------------------- internals

    private sealed record PromptRequest(int[] Ids, SamplingParams Parameters);

    private int[] Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (Tokenizer is null) throw new ArgumentException("This checkpoint has no tokenizer.json: pass token ids instead of text.");
        return Tokenizer.Encode(prompt);
    }

    private static List<PromptRequest> Prompts(List<int[]> ids, SamplingParams? parameters, bool single)
    {
        SamplingParams p = parameters ?? new SamplingParams();
        if (single && p.N != 1) throw new ArgumentException($"n (N) is {p.N}: several samples need the overloads that take a list and return one.");
        return ids.Select(i => new PromptRequest(i, p)).ToList();
    }

    private static List<PromptRequest> Prompts(List<int[]> ids, IReadOnlyList<SamplingParams> parameters)
    {
        if (parameters.Count != ids.Count) throw new ArgumentException($"{ids.Count} prompts need {ids.Count} SamplingParams, not {parameters.Count}.");
        if (parameters.Select(p => p.N).Distinct().Count() > 1) throw new ArgumentException("n (N) must be the same for every prompt of a batch.");
        return ids.Select((i, k) => new PromptRequest(i, parameters[k])).ToList();
    }

    private async Task<IReadOnlyList<GenerateOutput>> GenerateAsync(List<PromptRequest> prompts, CancellationToken cancellationToken)
    {
        List<Request> requests = Submit(prompts, stream: null, cancellationToken);
        return await Task.WhenAll(requests.Select(r => r.Completion.Task)).ConfigureAwait(false);
    }

    private async IAsyncEnumerable<StreamChunk> Stream(List<PromptRequest> prompts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sink = new StreamSink(prompts.Sum(p => p.Parameters.N));
        Submit(prompts, sink, cancellationToken);
        await foreach (StreamChunk chunk in sink.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            // Chunks may already be buffered when the caller cancels: stop at once rather than drain them.
            cancellationToken.ThrowIfCancellationRequested();
            yield return chunk;
        }
    }

    /// <summary>Validates every prompt first (nothing is queued when one is invalid), then queues one request per sample.</summary>
    private List<Request> Submit(List<PromptRequest> prompts, StreamSink? stream, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int vocab = Spec.VocabSize;
        foreach (PromptRequest p in prompts)
        {
            p.Parameters.Validate(vocab);
            if (p.Ids.Length == 0) throw new ArgumentException("The prompt is empty: a request needs at least one input token.");
            foreach (int id in p.Ids)
            {
                if ((uint)id >= (uint)vocab) throw new ArgumentException($"Token id {id} is outside the model's vocabulary [0, {vocab}).");
            }
            if (Tokenizer is null && p.Parameters.Stop is { Count: > 0 }) throw new ArgumentException("stop (Stop) strings need a tokenizer; this checkpoint has none.");
        }

        var requests = new List<Request>();
        int index = 0;
        foreach (PromptRequest p in prompts)
        {
            SamplingParams sp = p.Parameters;
            long seed = sp.Seed ?? _seedBase + Interlocked.Increment(ref _requests) * 1_000_003;
            var stopIds = new HashSet<int>(sp.StopTokenIds ?? []);
            if (!sp.IgnoreEos) stopIds.UnionWith(_eosTokenIds);
            for (int sample = 0; sample < sp.N; sample++, index++)
            {
                var sampler = new TokenSampler(sp, vocab, seed + sample, stopIds, p.Ids);
                int maxNew = Math.Max(0, Math.Min(sp.MaxNewTokens, ContextLength - p.Ids.Length));
                var r = new Request(Guid.NewGuid().ToString("N"), index, p.Ids, sp, maxNew, sampler, stopIds, Tokenizer, stream)
                {
                    CancellationToken = cancellationToken,
                };
                requests.Add(r);
                if (p.Ids.Length >= ContextLength)
                {
                    r.Complete(new FinishReason(FinishType.Abort,
                        Message: $"The input ({p.Ids.Length} tokens) is longer than the model's context length ({ContextLength} tokens)."));
                }
                else if (maxNew == 0) r.Complete(new FinishReason(FinishType.Length));
                else if (cancellationToken.IsCancellationRequested) r.CompleteCancelled();
                else _scheduler.Submit(r);
            }
        }
        return requests;
    }

    private static GenerateOutput Single(IReadOnlyList<GenerateOutput> outputs) => outputs[0];

    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    /// <summary>
    /// KV tokens that fit: on a GPU, what the memory fraction leaves after weights and activations; on the CPU, four
    /// full contexts, at most 16384 tokens: host memory is not measured, and 16384 tokens of Qwen2.5-0.5B's float32 KV
    /// take about 400 MB.
    /// </summary>
    private int DefaultKvTokens(ModelSpec spec, int stepTokens, int maxRunning, double fraction, KvCacheDtype dtype)
    {
        long bytesPerToken = 2L * spec.NumHiddenLayers * spec.KvSize * dtype.BytesPerElement();
        if (_backend.MemoryBytes is not long memory) return Math.Min(16384, Math.Max(ContextLength, 1) * 4);
        long weights = 2 * spec.ParameterCount;
        long activations = (long)stepTokens * (4L * spec.HiddenSize + spec.QkvSize + spec.QSize + 3L * spec.IntermediateSize) * sizeof(float)
            + (long)maxRunning * spec.VocabSize * sizeof(float) * 2;
        long free = (long)(memory * fraction) - weights - activations;
        if (free < bytesPerToken * ContextLength)
        {
            throw new InvalidOperationException($"Not enough device memory for the KV cache of one full context: raise MemoryFraction or lower ContextLength.");
        }
        return (int)Math.Min(int.MaxValue, free / bytesPerToken);
    }
}
