using System.Text.Json;
using Specialized.Tests.Support;

namespace Specialized.Tests.Engine;

/// <summary>
/// Continuous batching must not change a greedy result: alone, in batches of different lengths, from the prefix cache,
/// chunked, retracted for lack of KV, a request gives HF transformers' tokens (tools/reference, gqa shape).
/// </summary>
public sealed class EngineBatchingTests
{
    private const string Shape = "gqa";

    /// <summary>HF's prompts and greedy tokens, cut at the first near-tie (margin ≤ 0.01), where rounding may flip the choice.</summary>
    private static readonly (int[] Prompt, int[] Tokens)[] Cases = LoadCases();

    private static (int[] Prompt, int[] Tokens)[] LoadCases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(HfModels.Folder(Shape), "reference.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c =>
        {
            int[] prompt = c.GetProperty("prompt").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            JsonElement greedy = c.GetProperty("greedy");
            int[] tokens = greedy.GetProperty("new_tokens").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            double[] margins = greedy.GetProperty("margins").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            int clear = Array.FindIndex(margins, m => m <= 0.01);
            return (prompt, clear < 0 ? tokens : tokens[..clear]);
        }).ToArray();
    }

    private static SamplingParams Greedy(int n) => new() { Temperature = 0, MaxNewTokens = n, IgnoreEos = true };

    private static Specialized.Engine Create(EngineOptions? options = null) =>
        Specialized.Engine.Create(HfModels.Folder(Shape), (options ?? new EngineOptions()) with { Device = "cpu", MaxTotalTokens = options?.MaxTotalTokens ?? 512 });

    [Fact]
    public void Each_request_alone_gives_hfs_greedy_tokens()
    {
        using var engine = Create();
        foreach (var (prompt, tokens) in Cases)
        {
            GenerateOutput output = engine.Generate(prompt, Greedy(tokens.Length));
            Assert.Equal(tokens, output.OutputIds);
            Assert.Null(output.Text);
            Assert.Equal(FinishType.Length, output.MetaInfo.FinishReason!.Type);
            Assert.Equal(prompt.Length, output.MetaInfo.PromptTokens);
            Assert.Equal(tokens.Length, output.MetaInfo.CompletionTokens);
        }
    }

    // Each row must give HF's tokens, so the outputs are the same with and without the prefix cache and chunking.
    [Theory]
    [InlineData(16, -1, false)]   // pages of 16, no chunking
    [InlineData(1, 4, false)]     // token pages, prompts prefilled 4 tokens a step among decodes
    [InlineData(4, 5, false)]     // chunks that straddle pages
    [InlineData(4, 5, true)]      // no prefix cache
    public void A_batch_of_mixed_lengths_gives_each_request_its_own_tokens(int pageSize, int chunk, bool noRadix)
    {
        using var engine = Create(new EngineOptions { PageSize = pageSize, ChunkedPrefillSize = chunk, DisableRadixCache = noRadix });
        // The longest case first, alone: its KV goes to the prefix cache when it finishes, before the batch comes.
        var longest = Cases.MaxBy(c => c.Prompt.Length);
        Assert.Equal(longest.Tokens, engine.Generate(longest.Prompt, Greedy(longest.Tokens.Length)).OutputIds);

        // Then every case twice, interleaved: the longest ones start from the cache while the others prefill.
        var batch = Cases.Concat(Cases).ToList();
        var outputs = engine.Generate(batch.Select(c => (IReadOnlyList<int>)c.Prompt).ToList(), batch.Select(c => Greedy(c.Tokens.Length)).ToList());
        for (int i = 0; i < batch.Count; i++)
        {
            Assert.Equal(batch[i].Tokens, outputs[i].OutputIds);
            // A hit is whole pages of the prompt, less its last token, which is computed to sample from.
            int cached = !noRadix && batch[i].Prompt == longest.Prompt ? (longest.Prompt.Length - 1) / pageSize * pageSize : 0;
            Assert.Equal(cached, outputs[i].MetaInfo.CachedTokens);
        }
        Assert.True(noRadix || outputs.Any(o => o.MetaInfo.CachedTokens > 0));
    }

    [Fact]
    public void A_repeated_prompt_is_served_from_the_prefix_cache_with_the_same_tokens()
    {
        using var engine = Create(new EngineOptions { PageSize = 4 });
        var (prompt, tokens) = Cases.OrderByDescending(c => c.Prompt.Length).First();
        GenerateOutput first = engine.Generate(prompt, Greedy(tokens.Length));
        GenerateOutput second = engine.Generate(prompt, Greedy(tokens.Length));
        Assert.Equal(0, first.MetaInfo.CachedTokens);
        Assert.Equal((prompt.Length - 1) / 4 * 4, second.MetaInfo.CachedTokens);
        Assert.Equal(tokens, second.OutputIds);
        Assert.True(engine.GetMetrics().PrefixCacheHitRate > 0);
    }

    [Fact]
    public void Requests_retracted_for_lack_of_kv_still_finish_with_their_own_tokens()
    {
        // 12 pages of 4 tokens: three requests of ~35 tokens cannot all hold their KV at once.
        using var engine = Create(new EngineOptions { PageSize = 4, MaxTotalTokens = 48 });
        var (prompt, tokens) = Cases.OrderByDescending(c => c.Prompt.Length).First();
        var prompts = Enumerable.Repeat((IReadOnlyList<int>)prompt, 3).ToList();
        var outputs = engine.Generate(prompts, Greedy(tokens.Length));
        Assert.All(outputs, o => Assert.Equal(tokens, o.OutputIds));
        Assert.True(engine.Scheduler.Retractions > 0, "the KV pool was never short");
        AssertNoLeaks(engine);
    }

    [Fact]
    public void A_retracted_request_returns_one_hidden_state_per_position()
    {
        var (prompt, tokens) = Cases.OrderByDescending(c => c.Prompt.Length).First();
        SamplingParams p = Greedy(tokens.Length) with { ReturnHiddenStates = true };
        GenerateOutput alone;
        using (var roomy = Create(new EngineOptions { PageSize = 4 })) alone = roomy.Generate(prompt, p);

        // As in the test above: three requests of ~35 tokens cannot all hold their KV in 12 pages of 4.
        using var engine = Create(new EngineOptions { PageSize = 4, MaxTotalTokens = 48 });
        var outputs = engine.Generate(Enumerable.Repeat((IReadOnlyList<int>)prompt, 3).ToList(), p);
        Assert.True(engine.Scheduler.Retractions > 0, "the KV pool was never short");

        // SGLang's layout: the prompt's positions, then one per generated token fed back; each as when never retracted.
        Assert.Equal(1 + tokens.Length - 1, alone.HiddenStates!.Count);
        Assert.Equal(prompt.Length, alone.HiddenStates[0].Length);
        foreach (GenerateOutput o in outputs)
        {
            Assert.Equal(tokens, o.OutputIds);
            Assert.Equal(alone.HiddenStates.Select(h => h.Length), o.HiddenStates!.Select(h => h.Length));
            float[] expected = alone.HiddenStates.SelectMany(h => h).SelectMany(row => row).ToArray();
            float[] actual = o.HiddenStates!.SelectMany(h => h).SelectMany(row => row).ToArray();
            Assert.All(expected.Zip(actual), pair => Assert.True(Math.Abs(pair.First - pair.Second) < 1e-3, $"{pair.First} vs {pair.Second}"));
        }
    }

    internal static void AssertNoLeaks(Specialized.Engine engine)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.Scheduler.Pending > 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        Assert.Equal(0, engine.Scheduler.Pending);
        var pool = engine.Scheduler.Pool;
        var cache = engine.Scheduler.Cache;
        Assert.Equal(pool.TotalPages - pool.FreePages, cache.CachedPages);
        Assert.Equal(cache.CachedPages, cache.EvictablePages);
    }
}

/// <summary>Creating an engine on a checkpoint whose config no code can run fails with the config's problems and what the build runs.</summary>
public sealed class EngineCreationTests
{
    [Fact]
    public void An_unsupported_config_names_its_problem_and_the_known_models()
    {
        string folder = Directory.CreateTempSubdirectory("specialized-bad-config-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "config.json"), "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, " +
                "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}");
            Specialized.Models.BuiltInModels.Register();
            var e = Assert.Throws<Specialized.Models.ModelConfigException>(() => Specialized.Engine.Create(folder, new EngineOptions { Device = "cpu" }));
            Assert.Contains("SPEC004", e.Message);
            Assert.Contains("Qwen2_5_0_5B_Instruct", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>EngineOptions.LogLevel filters what reaches the caller's logger.</summary>
public sealed class EngineLoggingTests
{
    [Theory]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Information, true)]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Warning, false)]
    public void The_start_up_line_is_logged_at_information(Microsoft.Extensions.Logging.LogLevel level, bool expected)
    {
        var sink = new ListLoggerFactory();
        using var engine = Specialized.Engine.Create(HfModels.Folder("gqa"),
            new EngineOptions { Device = "cpu", MaxTotalTokens = 64, LoggerFactory = sink, LogLevel = level });
        Assert.Equal(expected, sink.Messages.Any(m => m.Contains("Loaded") && m.Contains("KV cache 64 tokens")));
    }

    private sealed class ListLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Messages { get; } = [];
        public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider) { }
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Messages) Messages.Add(formatter(state, exception));
        }
    }
}
