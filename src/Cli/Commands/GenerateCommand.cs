using System.CommandLine;
using System.Diagnostics;
using System.Text;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized generate --model DIR (--prompt TEXT | --input-ids 1,2,3) [--max-new-tokens N] [--temperature T]
/// [--top-p P] [--top-k K] [--seed S] [--ignore-eos] [--device auto|cuda|cpu] [--json]</c>: one request through the
/// engine, streamed: the text as it comes, or with --json one object (SGLang's text, output_ids, meta_info, plus how
/// long loading, the first token and decoding took).
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliConsole console)
    {
        var engine = new EngineCommandOptions();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (needs tokenizer.json in the model folder)." };
        var inputIds = new Option<string>("--input-ids") { Description = "Prompt as comma-separated token ids." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy; otherwise sample from softmax(logits / T).", DefaultValueFactory = _ => 1.0f };
        var topP = new Option<float>("--top-p") { Description = "Sample from the smallest set of tokens whose probability reaches P.", DefaultValueFactory = _ => 1.0f };
        var topK = new Option<int>("--top-k") { Description = "Sample from the K most likely tokens; -1 for all.", DefaultValueFactory = _ => -1 };
        var seed = new Option<long>("--seed") { Description = "Seed for sampling: the same seed gives the same output.", DefaultValueFactory = _ => 0 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-sequence tokens." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: text, output_ids, meta_info." };

        var command = new Command("generate", "Generate from one prompt.") { prompt, inputIds, maxNew, temperature, topP, topK, seed, ignoreEos, json };
        engine.AddTo(command);
        command.Validators.Add(result =>
        {
            if ((result.GetResult(prompt) is null) == (result.GetResult(inputIds) is null)) result.AddError("Give exactly one of --prompt TEXT or --input-ids IDS.");
        });
        command.SetAction(parse =>
        {
            var parameters = new SamplingParams
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                TopK = parse.GetValue(topK),
                Seed = parse.GetValue(seed),
                IgnoreEos = parse.GetValue(ignoreEos),
            };
            int[]? ids = null;
            if (parse.GetValue(inputIds) is string text && !TokenIds.TryParse(text, out ids, out string error)) throw new ArgumentException($"--input-ids: {error}");
            // Checked before the model loads, so a mistake costs no wait (token ids against the vocabulary come later).
            parameters.Validate(int.MaxValue);
            return Run(console, engine, parse, parse.GetValue(prompt), ids, parameters, parse.GetValue(json));
        });
        return command;
    }

    private static int Run(CliConsole console, EngineCommandOptions engineOptions, ParseResult parse, string? prompt, int[]? ids, SamplingParams parameters, bool json)
    {
        var clock = Stopwatch.StartNew();
        using LoadedEngine loaded = engineOptions.Load(parse, console);
        Engine engine = loaded.Engine;
        double loadSeconds = clock.Elapsed.TotalSeconds;

        IEnumerable<StreamChunk> stream = prompt is not null ? engine.GenerateStream(prompt, parameters) : engine.GenerateStream(ids!, parameters);
        var text = new StringBuilder();
        var outputIds = new List<int>();
        MetaInfo? meta = null;
        var requestClock = Stopwatch.StartNew();
        double firstToken = 0, lastToken = 0;
        foreach (StreamChunk chunk in stream)
        {
            if (chunk.NewOutputIds.Count > 0)
            {
                if (outputIds.Count == 0) firstToken = requestClock.Elapsed.TotalSeconds;
                lastToken = requestClock.Elapsed.TotalSeconds;
            }
            text.Append(chunk.TextDelta);
            outputIds.AddRange(chunk.NewOutputIds);
            meta = chunk.MetaInfo;
            if (!json && engine.Tokenizer is not null) console.Out.Write(chunk.TextDelta);
        }
        double decodeRate = outputIds.Count > 1 ? (outputIds.Count - 1) / (lastToken - firstToken) : 0;

        if (json)
        {
            var output = new GenerateOutput { Text = engine.Tokenizer is null ? null : text.ToString(), OutputIds = outputIds, MetaInfo = meta! };
            console.Out.WriteLine(GenerateJson.Write(output, w =>
            {
                w.WriteString("device", engine.Device);
                w.WriteBoolean("specialized", !engine.ModelDescription.StartsWith("generic", StringComparison.Ordinal));
                w.WriteNumber("load_seconds", loadSeconds);
                w.WriteNumber("prefill_seconds", firstToken);
                w.WriteNumber("decode_tokens_per_second", decodeRate);
            }));
        }
        else
        {
            console.Out.WriteLine(engine.Tokenizer is null ? string.Join(",", outputIds) : "");
            console.Error.WriteLine($"{outputIds.Count} tokens ({meta!.FinishReason}) on {engine.Device} with {engine.ModelDescription}; load {loadSeconds:F2} s, " +
                $"first token {firstToken:F3} s, decode {decodeRate:F1} tok/s");
        }
        return meta!.FinishReason!.Type == FinishType.Abort ? 1 : 0;
    }
}
