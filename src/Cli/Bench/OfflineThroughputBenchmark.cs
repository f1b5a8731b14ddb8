using System.Diagnostics;
using System.Text.Json;

namespace Specialized.Cli.Bench;

/// <summary>The workload of <see cref="OfflineThroughputBenchmark"/>: prompts of random token ids, fixed lengths in and out.</summary>
internal sealed record OfflineThroughputSettings(int NumPrompts, int InputLen, int OutputLen, int Seed)
{
    public void Validate(int contextLength)
    {
        if (NumPrompts < 1) throw new ArgumentException($"--num-prompts must be at least 1, got {NumPrompts}.");
        if (InputLen < 1) throw new ArgumentException($"--input-len must be at least 1, got {InputLen}.");
        if (OutputLen < 1) throw new ArgumentException($"--output-len must be at least 1, got {OutputLen}.");
        if (InputLen + OutputLen > contextLength)
        {
            throw new ArgumentException($"--input-len {InputLen} plus --output-len {OutputLen} exceeds the context length of {contextLength}.");
        }
    }
}

/// <summary>SGLang's bench_offline_throughput metrics, plus time to first token and inter-token latency.</summary>
internal sealed record OfflineThroughputResult(
    string Backend, string Model, int NumPrompts, int InputLen, int OutputLen, double Seconds, long TotalInputTokens, long TotalOutputTokens,
    double RequestThroughput, double InputThroughput, double OutputThroughput, double TotalThroughput,
    double MeanTtftMs, double MedianTtftMs, double MedianItlMs, double P99ItlMs)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The table SGLang prints, line for line where the metric is the same.</summary>
    public string Report() => $"""
        ====== Offline Throughput Benchmark Result =======
        Backend:                                 {Backend}
        Successful requests:                     {NumPrompts}
        Benchmark duration (s):                  {Seconds:F2}
        Total input tokens:                      {TotalInputTokens}
        Total generated tokens:                  {TotalOutputTokens}
        Request throughput (req/s):              {RequestThroughput:F2}
        Input token throughput (tok/s):          {InputThroughput:F2}
        Output token throughput (tok/s):         {OutputThroughput:F2}
        Total token throughput (tok/s):          {TotalThroughput:F2}
        Mean / median TTFT (ms):                 {MeanTtftMs:F1} / {MedianTtftMs:F1}
        Median / P99 ITL (ms):                   {MedianItlMs:F2} / {P99ItlMs:F2}
        ==================================================
        """;
}

/// <summary>
/// SGLang's bench_offline_throughput, for this engine: random prompts of token ids, every request greedy with
/// ignore_eos and a fixed output length, all of them in one streamed call after a warm-up. Throughput is over that
/// call; time to first token and inter-token latency are read from its chunks. Shared by <c>specialized bench</c>
/// and benchmarks/OfflineThroughput.
/// </summary>
internal static class OfflineThroughputBenchmark
{
    public static async Task<OfflineThroughputResult> RunAsync(Engine engine, OfflineThroughputSettings settings, CancellationToken cancellationToken = default)
    {
        settings.Validate(engine.ContextLength);
        var random = new Random(settings.Seed);
        List<IReadOnlyList<int>> Prompts(int count, int length) =>
            Enumerable.Range(0, count).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, length).Select(_ => random.Next(engine.Spec.VocabSize)).ToArray()).ToList();

        // Steady state, as SGLang's engine is once created: the kernels that compile in the background are ready, then
        // the warm-up as SGLang does it: 16 requests of 256 tokens in (fewer when the context is short), 16 out.
        await engine.KernelsCompiled.WaitAsync(cancellationToken).ConfigureAwait(false);
        await engine.GenerateAsync(Prompts(16, Math.Max(1, Math.Min(256, engine.ContextLength - 17))), Greedy(16), cancellationToken).ConfigureAwait(false);

        List<IReadOnlyList<int>> prompts = Prompts(settings.NumPrompts, settings.InputLen);
        var firstToken = new double[prompts.Count];
        var lastToken = new double[prompts.Count];
        var completion = new int[prompts.Count];
        var gaps = new List<double>();
        var clock = Stopwatch.StartNew();
        await foreach (StreamChunk chunk in engine.GenerateStreamAsync(prompts, Greedy(settings.OutputLen), cancellationToken).ConfigureAwait(false))
        {
            double now = clock.Elapsed.TotalSeconds;
            if (chunk.NewOutputIds.Count == 0) continue;
            if (completion[chunk.Index] == 0) firstToken[chunk.Index] = now;
            else gaps.Add(now - lastToken[chunk.Index]);
            lastToken[chunk.Index] = now;
            completion[chunk.Index] += chunk.NewOutputIds.Count;
        }
        double seconds = clock.Elapsed.TotalSeconds;

        long input = (long)prompts.Count * settings.InputLen, output = completion.Sum();
        gaps.Sort();
        return new OfflineThroughputResult(engine.Device, engine.ModelDescription, prompts.Count, settings.InputLen, settings.OutputLen, seconds, input, output,
            RequestThroughput: prompts.Count / seconds,
            InputThroughput: input / seconds,
            OutputThroughput: output / seconds,
            TotalThroughput: (input + output) / seconds,
            MeanTtftMs: firstToken.Average() * 1000,
            MedianTtftMs: Median(firstToken) * 1000,
            MedianItlMs: gaps.Count == 0 ? 0 : gaps[gaps.Count / 2] * 1000,
            P99ItlMs: gaps.Count == 0 ? 0 : gaps[(int)(gaps.Count * 0.99)] * 1000);
    }

    private static SamplingParams Greedy(int outputLen) => new() { Temperature = 0, MaxNewTokens = outputLen, IgnoreEos = true };

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }
}
