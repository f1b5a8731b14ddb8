// SGLang's offline-engine notebook, in C#: the four ways to run a batch of prompts through the engine.
//
//   dotnet run --project samples/OfflineBatch [-- CHECKPOINT_DIR] [--device auto|cuda|cpu]
//
// Without a checkpoint folder it first writes a random-weight checkpoint of the Qwen2.5-0.5B-Instruct shape with
// Qwen's tokenizer (once, into the temp folder), so it runs anywhere. Random weights write random text: the point is
// the API and the batching, not the prose.
using Specialized;
using Specialized.Weights;

string? checkpoint = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
string device = args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() ?? "auto";
checkpoint ??= RandomQwenCheckpoint();

using Engine llm = Engine.Create(checkpoint, new EngineOptions { Device = device });
Console.WriteLine($"# {checkpoint} on {llm.Device}: {llm.ModelDescription}");

string[] prompts =
[
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
];
var samplingParams = new SamplingParams { Temperature = 0.8f, TopP = 0.95f, MaxNewTokens = 32, Seed = 42 };

Console.WriteLine("\n=== Non-streaming synchronous generation ===");
IReadOnlyList<GenerateOutput> outputs = llm.Generate(prompts, samplingParams);
for (int i = 0; i < prompts.Length; i++)
{
    Console.WriteLine($"===============================\nPrompt: {prompts[i]}\nGenerated text: {outputs[i].Text}");
}

Console.WriteLine("\n=== Streaming synchronous generation ===");
foreach (string prompt in prompts)
{
    Console.Write($"\nPrompt: {prompt}\nGenerated text: ");
    foreach (StreamChunk chunk in llm.GenerateStream(prompt, samplingParams)) Console.Write(chunk.TextDelta);
    Console.WriteLine();
}

Console.WriteLine("\n=== Non-streaming asynchronous generation ===");
IReadOnlyList<GenerateOutput> asyncOutputs = await llm.GenerateAsync(prompts, samplingParams);
for (int i = 0; i < prompts.Length; i++)
{
    Console.WriteLine($"\nPrompt: {prompts[i]}\nGenerated text: {asyncOutputs[i].Text}");
}

Console.WriteLine("\n=== Streaming asynchronous generation ===");
foreach (string prompt in prompts)
{
    Console.Write($"\nPrompt: {prompt}\nGenerated text: ");
    await foreach (StreamChunk chunk in llm.GenerateStreamAsync(prompt, samplingParams)) Console.Write(chunk.TextDelta);
    Console.WriteLine();
}

GenerateOutput last = asyncOutputs[^1];
Console.WriteLine($"\n# last request: {last.MetaInfo.PromptTokens} prompt tokens, {last.MetaInfo.CompletionTokens} generated, " +
    $"finish {last.MetaInfo.FinishReason}, {last.MetaInfo.E2ELatency:F2} s");

static string RandomQwenCheckpoint()
{
    string repo = FindRepository();
    string folder = Path.Combine(Path.GetTempPath(), "specialized-random-qwen2.5-0.5b-instruct");
    if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
    {
        Console.WriteLine($"# writing a random-weight Qwen2.5-0.5B-Instruct-shape checkpoint to {folder} (once)");
        RandomCheckpoint.Write(File.ReadAllText(Path.Combine(repo, "models", "Qwen2.5-0.5B-Instruct", "config.json")), folder, seed: 0);
        foreach (string f in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(repo, "models", "qwen-tokenizer", f), Path.Combine(folder, f), overwrite: true);
        }
    }
    return folder;
}

static string FindRepository()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Specialized.sln"))) return dir.FullName;
    }
    throw new InvalidOperationException("Run the sample from inside the repository, or pass a checkpoint folder.");
}
