// SGLang's bench_offline_throughput, for this engine: the measurement is `specialized bench`'s
// (src/Cli/Bench/OfflineThroughputBenchmark.cs, compiled into this program too); this program keeps the plain
// command line the device scripts call.
//
//   dotnet OfflineThroughput.dll --model DIR [--num-prompts 1000] [--input-len 1024] [--output-len 256]
//       [--device auto|cuda|cpu] [--max-running-requests N] [--chunked-prefill-size N] [--max-total-tokens N]
//       [--disable-cuda-graph] [--bf16-activations] [--kv-cache-dtype float32|bf16] [--seed 1] [--json FILE]
// (--max-total-tokens bounds the KV cache: under Nsight Compute's kernel replay, which saves and restores device
// memory, the default cache of most of the GPU makes every replay pass take minutes.)
using Specialized;
using Specialized.Cli.Bench;

var options = Options.Parse(args);
using Engine engine = Engine.Create(options.Model, new EngineOptions
{
    Device = options.Device,
    MaxRunningRequests = options.MaxRunningRequests,
    ChunkedPrefillSize = options.ChunkedPrefillSize,
    MaxTotalTokens = options.MaxTotalTokens,
    DisableCudaGraph = options.DisableCudaGraph,
    Bf16Activations = options.Bf16Activations,
    KvCacheDtype = options.KvCacheDtype,
    RandomSeed = options.Seed,
});
Console.WriteLine($"model {options.Model} on {engine.Device}: {engine.ModelDescription}");

OfflineThroughputResult result = await OfflineThroughputBenchmark.RunAsync(engine,
    new OfflineThroughputSettings(options.NumPrompts, options.InputLen, options.OutputLen, options.Seed));
Console.WriteLine(result.Report());
if (options.Json is not null) File.WriteAllText(options.Json, result.ToJson());

sealed record Options(string Model, int NumPrompts, int InputLen, int OutputLen, string Device, int? MaxRunningRequests,
    int? ChunkedPrefillSize, int? MaxTotalTokens, bool DisableCudaGraph, bool Bf16Activations, KvCacheDtype KvCacheDtype, int Seed, string? Json)
{
    public static Options Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int? Int(string name) => Get(name) is string v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        string model = Get("--model") ?? throw new ArgumentException("--model DIR is required");
        return new Options(model, Int("--num-prompts") ?? 1000, Int("--input-len") ?? 1024, Int("--output-len") ?? 256,
            Get("--device") ?? "auto", Int("--max-running-requests"), Int("--chunked-prefill-size"),
            Int("--max-total-tokens"), args.Contains("--disable-cuda-graph"), args.Contains("--bf16-activations"),
            KvCacheDtypes.Parse(Get("--kv-cache-dtype") ?? "float32"), Int("--seed") ?? 1, Get("--json"));
    }
}
