using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Specialized;

/// <summary>
/// Publishes an engine's metrics: as instruments of a <see cref="Meter"/> named "Specialized.Engine" (for
/// dotnet-counters, OpenTelemetry, a MeterListener), and as a periodic Information line in the engine's log, like
/// SGLang's "Decode batch." line. Both read <see cref="Engine.GetMetrics"/> on their own threads, so the scheduler
/// does nothing for them beyond keeping its counters.
/// </summary>
internal sealed class EngineTelemetry : IDisposable
{
    public const string MeterName = "Specialized.Engine";

    private readonly Func<EngineMetrics> _read;
    private readonly ILogger _logger;
    private readonly Timer? _timer;
    private readonly Lock _logLock = new();
    private long _loggedAt = Stopwatch.GetTimestamp(), _loggedPrompt, _loggedGenerated;

    public EngineTelemetry(Func<EngineMetrics> read, ILogger logger, TimeSpan? logInterval)
    {
        _read = read;
        _logger = logger;
        Meter = new Meter(MeterName);
        Meter.CreateObservableGauge("specialized.engine.requests.queued", () => _read().QueuedRequests, "{request}", "Requests waiting to run");
        Meter.CreateObservableGauge("specialized.engine.requests.running", () => _read().RunningRequests, "{request}", "Requests being prefilled or decoded");
        Meter.CreateObservableGauge("specialized.engine.kv_cache.pages_used", () => _read().UsedKvPages, "{page}", "KV pages held by requests or the prefix cache");
        Meter.CreateObservableGauge("specialized.engine.kv_cache.usage", () => _read().KvCacheUsage, null, "Fraction of the KV cache in use");
        Meter.CreateObservableGauge("specialized.engine.prefix_cache.hit_rate", () => _read().PrefixCacheHitRate, null, "Prompt tokens found in the prefix cache over those looked up");
        Meter.CreateObservableGauge("specialized.engine.prompt_throughput", () => _read().PromptThroughput, "{token}/s", "Prompt tokens computed per second, recently");
        Meter.CreateObservableGauge("specialized.engine.generation_throughput", () => _read().GenerationThroughput, "{token}/s", "Tokens generated per second, recently");
        Meter.CreateObservableCounter("specialized.engine.requests.finished", () => _read().FinishedRequests, "{request}", "Requests ended since start");
        Meter.CreateObservableCounter("specialized.engine.tokens.prompt", () => _read().PromptTokens, "{token}", "Prompt tokens computed since start");
        Meter.CreateObservableCounter("specialized.engine.tokens.generated", () => _read().GeneratedTokens, "{token}", "Tokens generated since start");

        if (logInterval is { } interval && interval > TimeSpan.Zero && logger.IsEnabled(LogLevel.Information))
        {
            _timer = new Timer(_ => LogIfBusy(), null, interval, interval);
        }
    }

    public Meter Meter { get; }

    /// <summary>One line when there is work or there was some since the last line; an idle engine stays quiet.</summary>
    private void LogIfBusy()
    {
        lock (_logLock)
        {
            EngineMetrics m = _read();
            if (m.RunningRequests + m.QueuedRequests == 0 && m.GeneratedTokens == _loggedGenerated && m.PromptTokens == _loggedPrompt) return;
            long now = Stopwatch.GetTimestamp();
            double seconds = Math.Max(Stopwatch.GetElapsedTime(_loggedAt, now).TotalSeconds, 1e-9);
            // Throughput since the previous line, as SGLang logs it, rather than the metrics' sliding window.
            _logger.LogInformation(
                "#running-req: {Running}, #queue-req: {Queued}, #token: {KvTokens}, token usage: {Usage:F2}, prefix-cache hit rate: {HitRate:F2}, " +
                "input throughput (token/s): {PromptThroughput:F2}, gen throughput (token/s): {GenerationThroughput:F2}",
                m.RunningRequests, m.QueuedRequests, m.UsedKvPages * m.PageSize, m.KvCacheUsage, m.PrefixCacheHitRate,
                (m.PromptTokens - _loggedPrompt) / seconds, (m.GeneratedTokens - _loggedGenerated) / seconds);
            _loggedAt = now;
            _loggedPrompt = m.PromptTokens;
            _loggedGenerated = m.GeneratedTokens;
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        Meter.Dispose();
    }
}
