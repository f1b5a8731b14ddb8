// SGLang's offline-engine notebook, in C#: the four ways to run a batch of prompts through the engine.
//
//   dotnet run --project samples/OfflineBatch [-- [CHECKPOINT_DIR] [--device auto|cuda|cpu]]
//
// Without a checkpoint folder it first writes a random-weight checkpoint of the Qwen2.5-0.5B-Instruct shape with
// Qwen's tokenizer (once, into the temp folder), so it runs anywhere. Random weights write random text: the point is
// the API and the batching, not the prose.
using Specialized;
using Specialized.Weights;

return await OfflineBatch.RunAsync(args, Console.Out);

internal static class OfflineBatch
{
    public const string Usage = "usage: OfflineBatch [CHECKPOINT_DIR] [--device auto|cuda|cpu]";

    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        if (ParseArguments(args) is not (var checkpoint, var device))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        checkpoint ??= RandomQwenCheckpoint(output);

        using Engine llm = Engine.Create(checkpoint, new EngineOptions { Device = device });
        output.WriteLine($"# {checkpoint} on {llm.Device}: {llm.ModelDescription}");

        string[] prompts =
        [
            "Hello, my name is",
            "The president of the United States is",
            "The capital of France is",
            "The future of AI is",
        ];
        var samplingParams = new SamplingParams { Temperature = 0.8f, TopP = 0.95f, MaxNewTokens = 32, Seed = 42 };

        output.WriteLine("\n=== Non-streaming synchronous generation ===");
        IReadOnlyList<GenerateOutput> outputs = llm.Generate(prompts, samplingParams);
        for (int i = 0; i < prompts.Length; i++)
        {
            output.WriteLine($"===============================\nPrompt: {prompts[i]}\nGenerated text: {outputs[i].Text}");
        }

        output.WriteLine("\n=== Streaming synchronous generation ===");
        foreach (string prompt in prompts)
        {
            output.Write($"\nPrompt: {prompt}\nGenerated text: ");
            foreach (StreamChunk chunk in llm.GenerateStream(prompt, samplingParams)) output.Write(chunk.TextDelta);
            output.WriteLine();
        }

        output.WriteLine("\n=== Non-streaming asynchronous generation ===");
        IReadOnlyList<GenerateOutput> asyncOutputs = await llm.GenerateAsync(prompts, samplingParams);
        for (int i = 0; i < prompts.Length; i++)
        {
            output.WriteLine($"\nPrompt: {prompts[i]}\nGenerated text: {asyncOutputs[i].Text}");
        }

        output.WriteLine("\n=== Streaming asynchronous generation ===");
        foreach (string prompt in prompts)
        {
            output.Write($"\nPrompt: {prompt}\nGenerated text: ");
            await foreach (StreamChunk chunk in llm.GenerateStreamAsync(prompt, samplingParams)) output.Write(chunk.TextDelta);
            output.WriteLine();
        }

        GenerateOutput last = asyncOutputs[^1];
        output.WriteLine($"\n# last request: {last.MetaInfo.PromptTokens} prompt tokens, {last.MetaInfo.CompletionTokens} generated, " +
            $"finish {last.MetaInfo.FinishReason}, {last.MetaInfo.E2ELatency:F2} s");
        return 0;
    }

    /// <summary>The checkpoint folder (optional) and the device, options in any order; null when the arguments make no sense.</summary>
    public static (string? Checkpoint, string Device)? ParseArguments(IReadOnlyList<string> args)
    {
        string? checkpoint = null;
        string device = "auto";
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--device" && i + 1 < args.Count) device = args[++i];
            else if (args[i].StartsWith("--device=", StringComparison.Ordinal)) device = args[i]["--device=".Length..];
            else if (args[i].StartsWith('-') || checkpoint is not null) return null;
            else checkpoint = args[i];
        }
        return (checkpoint, device);
    }

    private static string RandomQwenCheckpoint(TextWriter output)
    {
        string repo = FindRepository();
        string folder = Path.Combine(Path.GetTempPath(), "specialized-random-qwen2.5-0.5b-instruct");
        if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
        {
            output.WriteLine($"# writing a random-weight Qwen2.5-0.5B-Instruct-shape checkpoint to {folder} (once)");
            RandomCheckpoint.Write(File.ReadAllText(Path.Combine(repo, "models", "Qwen2.5-0.5B-Instruct", "config.json")), folder, seed: 0);
            foreach (string f in new[] { "tokenizer.json", "tokenizer_config.json" })
            {
                File.Copy(Path.Combine(repo, "models", "qwen-tokenizer", f), Path.Combine(folder, f), overwrite: true);
            }
        }
        return folder;
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Specialized.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Run the sample from inside the repository, or pass a checkpoint folder.");
    }
}
