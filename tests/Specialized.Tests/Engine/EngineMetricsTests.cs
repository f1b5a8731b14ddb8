using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Specialized.Tests.Support;

namespace Specialized.Tests.Engine;

/// <summary>The engine's metrics after known workloads, as <see cref="Specialized.Engine.GetMetrics"/>, meter instruments and log lines.</summary>
public sealed class EngineMetricsTests(TinyTextModel model) : IClassFixture<TinyTextModel>
{
    private static readonly string LongPrompt = string.Join(" ", Enumerable.Range(0, 40).Select(i => $"word{i}"));

    private Specialized.Engine Create(EngineOptions? options = null) =>
        Specialized.Engine.Create(model.Folder, (options ?? new EngineOptions()) with { Device = "cpu", MaxTotalTokens = 2048 });

    private static SamplingParams Greedy(int n) => new() { Temperature = 0, MaxNewTokens = n, IgnoreEos = true };

    [Fact]
    public void After_a_batch_ends_nothing_runs_only_the_prefix_cache_holds_kv_and_the_totals_add_up()
    {
        using var engine = Create();
        EngineMetrics idle = engine.GetMetrics();
        Assert.Equal(0, idle.UsedKvPages);
        Assert.Equal(0, idle.GeneratedTokens);

        string[] prompts = ["Hello", "The capital of France is", LongPrompt, "1 2 3 4 5"];
        var parameters = prompts.Select((_, i) => Greedy(3 + 2 * i)).ToList();
        IReadOnlyList<GenerateOutput> outputs = engine.Generate(prompts, parameters);

        EngineMetrics m = engine.GetMetrics();
        Assert.Equal(0, m.QueuedRequests);
        Assert.Equal(0, m.RunningRequests);
        Assert.Equal(m.CachedKvPages, m.UsedKvPages);
        Assert.True(m.TotalKvPages >= m.UsedKvPages);
        Assert.Equal(prompts.Length, m.FinishedRequests);
        Assert.Equal(outputs.Sum(o => o.OutputIds.Count), m.GeneratedTokens);
        Assert.Equal(outputs.Sum(o => o.MetaInfo.PromptTokens - o.MetaInfo.CachedTokens), m.PromptTokens);
        Assert.True(m.GenerationThroughput > 0, "tokens were generated within the throughput window");
        Assert.True(m.PromptThroughput > 0, "prompts were computed within the throughput window");
    }

    [Fact]
    public void Repeating_a_prompt_is_a_prefix_cache_hit()
    {
        using var engine = Create();
        engine.Generate(LongPrompt, Greedy(2));
        Assert.Equal(0, engine.GetMetrics().PrefixCacheHitRate);

        GenerateOutput again = engine.Generate(LongPrompt, Greedy(2));
        Assert.True(again.MetaInfo.CachedTokens > 0);
        Assert.True(engine.GetMetrics().PrefixCacheHitRate > 0);
    }

    [Fact]
    public void The_meter_reports_what_get_metrics_reads()
    {
        using var engine = Create();
        engine.Generate(["Hello", "Bonjour"], Greedy(4));

        var seen = new Dictionary<string, double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == engine.Meter) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((i, value, _, _) => seen[i.Name] = value);
        listener.SetMeasurementEventCallback<int>((i, value, _, _) => seen[i.Name] = value);
        listener.SetMeasurementEventCallback<double>((i, value, _, _) => seen[i.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal("Specialized.Engine", engine.Meter.Name);
        Assert.Equal(8, seen["specialized.engine.tokens.generated"]);
        Assert.Equal(2, seen["specialized.engine.requests.finished"]);
        Assert.Equal(0, seen["specialized.engine.requests.running"]);
        Assert.Equal(engine.GetMetrics().UsedKvPages, seen["specialized.engine.kv_cache.pages_used"]);
    }

    [Fact]
    public void A_busy_engine_logs_a_metrics_line_at_the_interval()
    {
        using var logs = new CapturingLoggerFactory();
        using var engine = Create(new EngineOptions { LoggerFactory = logs, LogLevel = LogLevel.Information, MetricsLogInterval = TimeSpan.FromMilliseconds(20) });
        engine.Generate("Hello", Greedy(8));

        // Work happened since the last line (or none was written yet), so the next tick writes one.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string? line = null;
        while (line is null && DateTime.UtcNow < deadline)
        {
            line = logs.Messages.Select(m => m.Message).FirstOrDefault(m => m.Contains("gen throughput (token/s)"));
            if (line is null) Thread.Sleep(10);
        }
        Assert.NotNull(line);
        Assert.Contains("#running-req: ", line);
        Assert.Contains("#queue-req: ", line);
        Assert.Contains("token usage: ", line);
        Assert.All(logs.Messages.Where(m => m.Message == line), m => Assert.Equal(LogLevel.Information, m.Level));
    }

    [Fact]
    public void A_negative_metrics_interval_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Create(new EngineOptions { MetricsLogInterval = TimeSpan.FromSeconds(-1) }));
        Assert.Contains("MetricsLogInterval", e.Message);
    }
}
