// SGLang's bench_offline_throughput, for this engine: random prompts of token ids, every request greedy with
// ignore_eos and a fixed output length, all of them in one Generate call after a warm-up. Reports SGLang's metrics
// (request/s, input, output and total token/s) plus time to first token and inter-token latency, read from the
// stream of that same single call.
//
//   dotnet OfflineThroughput.dll --model DIR [--num-prompts 1000] [--input-len 1024] [--output-len 256]
//       [--device auto|cuda|cpu] [--max-running-requests N] [--chunked-prefill-size N] [--seed 1] [--json FILE]
using System.Diagnostics;
using System.Text.Json;
using Specialized;

var options = Options.Parse(args);
using Engine engine = Engine.Create(options.Model, new EngineOptions
{
    Device = options.Device,
    MaxRunningRequests = options.MaxRunningRequests,
    ChunkedPrefillSize = options.ChunkedPrefillSize,
    RandomSeed = options.Seed,
});
Console.WriteLine($"model {options.Model} on {engine.Device}: {engine.ModelDescription}");

var random = new Random(options.Seed);
int[][] Prompts(int count, int length) =>
    Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => random.Next(engine.Spec.VocabSize)).ToArray()).ToArray();

// Warm-up as SGLang does it: 16 requests of 256 tokens in (fewer when the context is short), 16 out.
var warmup = Stopwatch.StartNew();
engine.Generate(Prompts(16, Math.Min(256, engine.ContextLength - 17)).Select(p => (IReadOnlyList<int>)p).ToList(), Params(16));
Console.WriteLine($"warm-up {warmup.Elapsed.TotalSeconds:F2} s");

int[][] prompts = Prompts(options.NumPrompts, options.InputLen);
var firstToken = new double[prompts.Length];
var lastToken = new double[prompts.Length];
var completion = new int[prompts.Length];
var gaps = new List<double>();
var clock = Stopwatch.StartNew();
await foreach (StreamChunk chunk in engine.GenerateStreamAsync(prompts.Select(p => (IReadOnlyList<int>)p).ToList(), Params(options.OutputLen)))
{
    double now = clock.Elapsed.TotalSeconds;
    if (chunk.NewOutputIds.Count == 0) continue;
    if (completion[chunk.Index] == 0) firstToken[chunk.Index] = now;
    else gaps.Add(now - lastToken[chunk.Index]);
    lastToken[chunk.Index] = now;
    completion[chunk.Index] += chunk.NewOutputIds.Count;
}
double seconds = clock.Elapsed.TotalSeconds;

long input = (long)prompts.Length * options.InputLen, output = completion.Sum();
gaps.Sort();
var result = new
{
    backend = engine.Device,
    model = engine.ModelDescription,
    num_prompts = prompts.Length,
    input_len = options.InputLen,
    output_len = options.OutputLen,
    seconds,
    request_throughput = prompts.Length / seconds,
    input_throughput = input / seconds,
    output_throughput = output / seconds,
    total_throughput = (input + output) / seconds,
    mean_ttft_ms = firstToken.Average() * 1000,
    median_ttft_ms = Median(firstToken) * 1000,
    median_itl_ms = gaps.Count == 0 ? 0 : gaps[gaps.Count / 2] * 1000,
    p99_itl_ms = gaps.Count == 0 ? 0 : gaps[(int)(gaps.Count * 0.99)] * 1000,
};
Console.WriteLine($"""
    ====== Offline Throughput Benchmark Result =======
    Backend:                                 {result.backend}
    Successful requests:                     {result.num_prompts}
    Benchmark duration (s):                  {result.seconds:F2}
    Total input tokens:                      {input}
    Total generated tokens:                  {output}
    Request throughput (req/s):              {result.request_throughput:F2}
    Input token throughput (tok/s):          {result.input_throughput:F2}
    Output token throughput (tok/s):         {result.output_throughput:F2}
    Total token throughput (tok/s):          {result.total_throughput:F2}
    Mean / median TTFT (ms):                 {result.mean_ttft_ms:F1} / {result.median_ttft_ms:F1}
    Median / P99 ITL (ms):                   {result.median_itl_ms:F2} / {result.p99_itl_ms:F2}
    ==================================================
    """);
if (options.Json is not null) File.WriteAllText(options.Json, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));

static SamplingParams Params(int outputLen) => new() { Temperature = 0, MaxNewTokens = outputLen, IgnoreEos = true };

static double Median(double[] values)
{
    double[] sorted = [.. values.Order()];
    return sorted[sorted.Length / 2];
}

sealed record Options(string Model, int NumPrompts, int InputLen, int OutputLen, string Device, int? MaxRunningRequests,
    int? ChunkedPrefillSize, int Seed, string? Json)
{
    public static Options Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int? Int(string name) => Get(name) is string v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        string model = Get("--model") ?? throw new ArgumentException("--model DIR is required");
        return new Options(model, Int("--num-prompts") ?? 1000, Int("--input-len") ?? 1024, Int("--output-len") ?? 256,
            Get("--device") ?? "auto", Int("--max-running-requests"), Int("--chunked-prefill-size"), Int("--seed") ?? 1, Get("--json"));
    }
}
