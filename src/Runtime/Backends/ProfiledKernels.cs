using System.Globalization;
using System.Text;
using Specialized.Models;

namespace Specialized.Backends;

/// <summary>
/// A clock on the device's own timeline: a mark is taken in stream order (a CUDA event, on ILGPU), so the time between
/// two marks is the GPU time of the work queued between them, without synchronising.
/// </summary>
public interface IDeviceClock
{
    object Mark();

    /// <summary>Milliseconds from <paramref name="start"/> to <paramref name="end"/>, waiting for <paramref name="end"/> if needed.</summary>
    double Milliseconds(object start, object end);

    /// <summary>Gives back a mark's resources once it has been measured.</summary>
    void Release(object mark);
}

/// <summary>
/// Wraps a backend's kernels and times every seam call on the device clock, summed by kind of step (decode or
/// prefill/mixed, and its token count rounded up to a power of two) and by operation (a projection by its weight's
/// shape). Steps run launch by launch (no CUDA graph replay), so a profile shows each operation; the gaps between
/// them show as the difference between a step's total and the sum of its operations. For finding where the GPU time
/// goes (tools/device: <c>SPECIALIZED_PROFILE_OPS=file</c>), not for serving.
/// </summary>
public sealed class ProfiledKernels<TDims> : IQwen2Kernels<TDims>, IBackgroundCompilation, IDisposable where TDims : struct, IQwen2Dims
{
    private readonly IQwen2Kernels<TDims> _inner;
    private readonly IDeviceClock _clock;
    private readonly string? _reportPath;
    private readonly List<(string Step, string Op, object Start, object End)> _pending = [];
    private readonly Dictionary<(string Step, string Op), (int Count, double Ms)> _totals = [];
    private readonly Dictionary<string, (int Steps, double Ms)> _steps = [];
    private string _step = "";
    private object? _stepStart, _lastEnd;

    public Task Compiled => _inner is IBackgroundCompilation c ? c.Compiled : Task.CompletedTask;

    public ProfiledKernels(IQwen2Kernels<TDims> inner, IDeviceClock clock, string? reportPath)
    {
        _inner = inner;
        _clock = clock;
        _reportPath = reportPath;
    }

    /// <summary>The kind of step a batch makes: "decode" when every sequence brings one token, else "prefill/mixed"; with T rounded up to a power of two.</summary>
    public static string StepKind(ForwardBatch batch)
    {
        string kind = batch.TokenCount == batch.SequenceCount ? "decode" : "prefill/mixed";
        return $"{kind} T<={(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)batch.TokenCount)}";
    }

    public void Embed(ForwardBatch batch, Tensor table, Tensor output)
    {
        // The first call of a step: the previous step's marks have completed (its results reached the host).
        CloseStep();
        Collect();
        _step = StepKind(batch);
        Time("Embed", () => _inner.Embed(batch, table, output), first: true);
    }

    public void RmsNorm(ForwardBatch batch, Tensor input, Tensor weight, Tensor output) =>
        Time("RmsNorm", () => _inner.RmsNorm(batch, input, weight, output));

    public void NormQkv(ForwardBatch batch, int layer, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor? bias, Tensor qkv) =>
        Time($"NormQkv {Shape(weight)}", () => _inner.NormQkv(batch, layer, residual, norm, normed, weight, bias, qkv));

    public void LinearAdd(ForwardBatch batch, Tensor input, Tensor weight, Tensor scratch, Tensor residual) =>
        Time($"LinearAdd {Shape(weight)}", () => _inner.LinearAdd(batch, input, weight, scratch, residual));

    public void NormGateUp(ForwardBatch batch, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor gateUp, Tensor activated) =>
        Time($"NormGateUp {Shape(weight)}", () => _inner.NormGateUp(batch, residual, norm, normed, weight, gateUp, activated));

    public void RopeAndStoreKv(ForwardBatch batch, int layer, Tensor qkv) =>
        Time("RopeAndStoreKv", () => _inner.RopeAndStoreKv(batch, layer, qkv));

    public void Attention(ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output) =>
        Time("Attention", () => _inner.Attention(batch, layer, slidingWindow, qkv, output));

    public void Logits(ForwardBatch batch, Tensor input, Tensor weight, Tensor logits) =>
        Time("Logits", () => _inner.Logits(batch, input, weight, logits));

    private static string Shape(Tensor weight) => $"{weight.Shape[0]}x{weight.Shape[1]}";

    private void Time(string op, Action call, bool first = false)
    {
        object start = _clock.Mark();
        call();
        object end = _clock.Mark();
        if (first) _stepStart = start;
        _lastEnd = end;
        _pending.Add((_step, op, start, end));
    }

    /// <summary>A step's span, from its first mark to its last: its operations and the gaps between them.</summary>
    private void CloseStep()
    {
        if (_stepStart is null || _lastEnd is null) return;
        double ms = _clock.Milliseconds(_stepStart, _lastEnd);
        _steps[_step] = _steps.TryGetValue(_step, out var s) ? (s.Steps + 1, s.Ms + ms) : (1, ms);
        _stepStart = _lastEnd = null;
    }

    private void Collect()
    {
        foreach (var (step, op, start, end) in _pending)
        {
            double ms = _clock.Milliseconds(start, end);
            _totals[(step, op)] = _totals.TryGetValue((step, op), out var t) ? (t.Count + 1, t.Ms + ms) : (1, ms);
            _clock.Release(start);
            _clock.Release(end);
        }
        _pending.Clear();
    }

    /// <summary>One table per kind of step: its operations by total time, with their share of the steps' span.</summary>
    public string Report()
    {
        CloseStep();
        Collect();
        var text = new StringBuilder();
        foreach (var (step, (steps, spanMs)) in _steps.OrderByDescending(s => s.Value.Ms))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"== {step}: {steps} steps, {spanMs:F1} ms on the device ({spanMs / steps:F3} ms a step)");
            double opsMs = 0;
            foreach (var ((_, op), (count, ms)) in _totals.Where(t => t.Key.Step == step).OrderByDescending(t => t.Value.Ms))
            {
                opsMs += ms;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"{ms,10:F1} ms {100 * ms / spanMs,5:F1}% {count,8}x {1000 * ms / count,9:F1} us  {op}");
            }
            text.AppendLine(CultureInfo.InvariantCulture, $"{spanMs - opsMs,10:F1} ms {100 * (spanMs - opsMs) / spanMs,5:F1}%            between operations");
        }
        return text.ToString();
    }

    public void Dispose()
    {
        string report = Report();
        if (_reportPath is not null) File.WriteAllText(_reportPath, report);
        (_inner as IDisposable)?.Dispose();
    }
}
