using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Specialized.Backends;
using Specialized.Models;
using Specialized.Text;
using Specialized.Weights;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized generate --model DIR (--prompt TEXT | --input-ids 1,2,3) [--max-new-tokens N] [--temperature T]
/// [--device auto|cuda|cpu] [--json]</c>: one request through the model runner, prefill then token by token. The
/// engine (continuous batching, paged KV, prefix cache) serves many; this is the straight line through one.
/// </summary>
internal static class GenerateCommand
{
    private const int PageSize = 16;
    private const int PrefillChunk = 512;

    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "A checkpoint folder (config.json, safetensors, optionally tokenizer.json).", Required = true };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (needs tokenizer.json in the model folder)." };
        var inputIds = new Option<string>("--input-ids") { Description = "Prompt as comma-separated token ids." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy; otherwise sample from softmax(logits / T).", DefaultValueFactory = _ => 1.0f };
        var seed = new Option<int>("--seed") { Description = "Seed for sampling.", DefaultValueFactory = _ => 0 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-sequence tokens." };
        var device = new Option<string>("--device") { Description = "auto, cuda or cpu.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong(BackendSelector.Devices);
        var json = new Option<bool>("--json") { Description = "Print one JSON object: text, output_ids, meta_info." };
        var saveLogits = new Option<string>("--save-logits")
        {
            Description = "Write the logits that chose each output token to this file: float32 little-endian, one row of vocab_size per token.",
        };

        var command = new Command("generate", "Generate from one prompt.") { model, prompt, inputIds, maxNew, temperature, seed, ignoreEos, device, json, saveLogits };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(prompt) is null) == (result.GetResult(inputIds) is null)) result.AddError("Give exactly one of --prompt TEXT or --input-ids IDS.");
            if (result.GetValue(maxNew) < 0) result.AddError("--max-new-tokens must be 0 or more.");
            if (result.GetValue(temperature) < 0) result.AddError("--temperature must be 0 or more.");
        });
        command.SetAction(parse => Run(new Request(parse.GetValue(model)!, parse.GetValue(prompt), parse.GetValue(inputIds), parse.GetValue(maxNew),
            parse.GetValue(temperature), parse.GetValue(seed), parse.GetValue(ignoreEos), parse.GetValue(device)!, parse.GetValue(json),
            parse.GetValue(saveLogits))));
        return command;
    }

    private sealed record Request(string Model, string? Prompt, string? InputIds, int MaxNewTokens, float Temperature, int Seed,
        bool IgnoreEos, string Device, bool Json, string? SaveLogits);

    private static int Run(Request r)
    {
        try
        {
            return Generate(r);
        }
        catch (Exception e) when (e is ModelConfigException or CheckpointException or TokenizerLoadException or IOException
            or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static int Generate(Request r)
    {
        var clock = Stopwatch.StartNew();
        Qwen2Tokenizer? tokenizer = File.Exists(Path.Combine(r.Model, "tokenizer.json")) ? Qwen2Tokenizer.Load(r.Model) : null;
        int[] prompt;
        if (r.Prompt is not null)
        {
            if (tokenizer is null) throw new ArgumentException($"--prompt needs {Path.Combine(r.Model, "tokenizer.json")}; give --input-ids instead.");
            prompt = tokenizer.Encode(r.Prompt);
        }
        else if (!TokenIds.TryParse(r.InputIds!, out prompt, out string error)) throw new ArgumentException($"--input-ids: {error}");
        if (prompt.Length == 0) throw new ArgumentException("The prompt is empty: give at least one token.");

        ModelSpec spec = ModelConfig.Load(r.Model);
        int total = prompt.Length + r.MaxNewTokens;
        if (total > spec.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"The prompt ({prompt.Length} tokens) plus --max-new-tokens ({r.MaxNewTokens}) exceeds the model's context of {spec.MaxPositionEmbeddings}.");
        }
        foreach (int id in prompt)
        {
            if ((uint)id >= (uint)spec.VocabSize) throw new ArgumentException($"Token id {id} is outside the vocabulary of {spec.VocabSize}.");
        }

        using IBackend backend = BackendSelector.Create(r.Device);
        var options = new RunnerOptions(Math.Min(prompt.Length, PrefillChunk), 1, new KvCacheLayout((total + PageSize - 1) / PageSize, PageSize), total);
        using LoadedModel loaded = ModelLoader.Load(r.Model, backend, _ => options);
        IModelRunner runner = loaded.Runner;
        foreach (CheckpointWarning w in loaded.Warnings) Console.Error.WriteLine($"warning: {w}");
        double loadSeconds = clock.Elapsed.TotalSeconds;

        int[] pages = Enumerable.Range(0, options.Kv.NumPages).ToArray();
        HashSet<int> eos = r.IgnoreEos ? [] : EosTokens.Of(r.Model, spec, tokenizer);
        var sampler = new Random(r.Seed);
        var output = new List<int>();
        int? matched = null;

        var prefillClock = Stopwatch.StartNew();
        ReadOnlyMemory<float> logits = default;
        for (int start = 0; start < prompt.Length; start += PrefillChunk)
        {
            int[] chunk = prompt[start..Math.Min(prompt.Length, start + PrefillChunk)];
            logits = runner.Forward(Step(chunk, start, pages, chunk.Length - 1)).Logits;
        }
        double prefillSeconds = prefillClock.Elapsed.TotalSeconds;

        using FileStream? logitsFile = r.SaveLogits is null ? null : File.Create(r.SaveLogits);
        var decodeClock = Stopwatch.StartNew();
        while (output.Count < r.MaxNewTokens)
        {
            logitsFile?.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(logits.Span));
            int next = Sample(logits.Span, r.Temperature, sampler);
            output.Add(next);
            if (eos.Contains(next))
            {
                matched = next;
                break;
            }
            if (output.Count == r.MaxNewTokens) break;
            logits = runner.Forward(Step([next], prompt.Length + output.Count - 1, pages, 0)).Logits;
        }
        double decodeSeconds = decodeClock.Elapsed.TotalSeconds;

        string? text = tokenizer?.Decode(output, skipSpecialTokens: true);
        if (r.Json) WriteJson(text, output, prompt.Length, matched, clock.Elapsed.TotalSeconds, backend, loaded, loadSeconds, prefillSeconds, decodeSeconds);
        else
        {
            Console.WriteLine(text ?? string.Join(",", output));
            Console.Error.WriteLine($"{output.Count} tokens on {backend.Name} ({backend.Device}) with {loaded.Description}; load {loadSeconds:F2} s, " +
                $"prefill {prompt.Length} tokens {prefillSeconds:F3} s, decode {(output.Count > 1 ? (output.Count - 1) / decodeSeconds : 0):F1} tok/s");
        }
        return 0;
    }

    private static ForwardBatch Step(int[] tokens, int cached, int[] pages, int logitRow) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [pages], PageSize, [logitRow]);

    private static int Sample(ReadOnlySpan<float> logits, float temperature, Random random)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best]) best = i;
        }
        if (temperature < 1e-6f) return best;

        double max = logits[best], sum = 0;
        var weights = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++) sum += weights[i] = Math.Exp((logits[i] - max) / temperature);
        double target = random.NextDouble() * sum;
        for (int i = 0; i < weights.Length; i++)
        {
            target -= weights[i];
            if (target <= 0) return i;
        }
        return best;
    }

    private static void WriteJson(string? text, List<int> output, int promptTokens, int? matched, double seconds, IBackend backend,
        LoadedModel loaded, double loadSeconds, double prefillSeconds, double decodeSeconds)
    {
        using var stream = Console.OpenStandardOutput();
        using var w = new Utf8JsonWriter(stream);
        w.WriteStartObject();
        if (text is null) w.WriteNull("text");
        else w.WriteString("text", text);
        w.WriteStartArray("output_ids");
        foreach (int id in output) w.WriteNumberValue(id);
        w.WriteEndArray();
        w.WriteStartObject("meta_info");
        w.WriteString("id", Guid.NewGuid().ToString("N"));
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("completion_tokens", output.Count);
        w.WriteStartObject("finish_reason");
        w.WriteString("type", matched is null ? "length" : "stop");
        if (matched is int m) w.WriteNumber("matched", m);
        w.WriteEndObject();
        w.WriteNumber("e2e_latency", seconds);
        w.WriteString("device", backend.Name);
        w.WriteString("device_name", backend.Device);
        w.WriteBoolean("specialized", loaded.Specialization is not null);
        w.WriteNumber("load_seconds", loadSeconds);
        w.WriteNumber("prefill_seconds", prefillSeconds);
        w.WriteNumber("decode_tokens_per_second", output.Count > 1 ? (output.Count - 1) / decodeSeconds : 0);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        stream.WriteByte((byte)'\n');
    }
}
