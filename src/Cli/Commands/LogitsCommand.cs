using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Specialized.Backends;
using Specialized.Models;
using Specialized.Text;
using Specialized.Weights;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized logits --model DIR (--prompt TEXT | --input-ids 1,2,3) --out FILE [--max-new-tokens N] [--ignore-eos]
/// [--device auto|cuda|cpu]</c>: greedy decoding of one prompt straight through the model runner, no engine, writing
/// the logits that chose each output token (float32 little-endian, one row of vocab_size a token) and printing
/// generate's JSON. The engine returns no raw logits, so checks of the kernels against HF transformers
/// (tools/device/check_cuda_vs_hf.py) take them from here.
/// </summary>
internal static class LogitsCommand
{
    private const int PageSize = 16;
    private const int PrefillChunk = 512;

    public static Command Create(CliConsole console)
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (needs tokenizer.json in the model folder)." };
        var inputIds = new Option<string>("--input-ids") { Description = "Prompt as comma-separated token ids." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 128 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-sequence tokens." };
        var device = CommonOptions.Device();
        var bf16 = new Option<bool>("--bf16-activations") { Description = "Round the GPU GEMMs' inputs to bf16 (EngineOptions.Bf16Activations)." };
        var kvDtype = CommonOptions.KvCacheDtype();
        var output = new Option<string>("--out", "-o")
        {
            Description = "Where to write the logits: float32 little-endian, one row of vocab_size per output token.",
            Required = true,
        };

        var command = new Command("logits", "Greedy decoding straight through the model runner, saving each step's logits (for checks against HF).")
        {
            model, prompt, inputIds, maxNew, ignoreEos, device, bf16, kvDtype, output,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(prompt) is null) == (result.GetResult(inputIds) is null)) result.AddError("Give exactly one of --prompt TEXT or --input-ids IDS.");
            if (result.GetValue(maxNew) < 0) result.AddError("--max-new-tokens must be 0 or more.");
        });
        command.SetAction(parse => Run(console, new Request(parse.GetValue(model)!, parse.GetValue(prompt), parse.GetValue(inputIds), parse.GetValue(maxNew),
            parse.GetValue(ignoreEos), parse.GetValue(device)!, parse.GetValue(bf16), parse.GetValue(kvDtype), parse.GetValue(output)!)));
        return command;
    }

    private sealed record Request(string Model, string? Prompt, string? InputIds, int MaxNewTokens, bool IgnoreEos, string Device, bool Bf16Activations,
        KvCacheDtype KvCacheDtype, string Logits);

    private static int Run(CliConsole console, Request r)
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
        // Decode steps replay a CUDA graph as the engine's do, so checks against HF cover that path.
        var options = new RunnerOptions(Math.Min(prompt.Length, PrefillChunk), 1, new KvCacheLayout((total + PageSize - 1) / PageSize, PageSize, r.KvCacheDtype), total,
            CudaGraphMaxBatch: 1, Bf16Activations: r.Bf16Activations);
        using LoadedModel loaded = ModelLoader.Load(r.Model, backend, _ => options);
        IModelRunner runner = loaded.Runner;
        foreach (CheckpointWarning w in loaded.Warnings) console.Error.WriteLine($"warning: {w}");
        double loadSeconds = clock.Elapsed.TotalSeconds;

        int[] pages = Enumerable.Range(0, options.Kv.NumPages).ToArray();
        HashSet<int> eos = r.IgnoreEos ? [] : EosTokens.Of(r.Model, spec, tokenizer);
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

        using FileStream logitsFile = File.Create(r.Logits);
        var decodeClock = Stopwatch.StartNew();
        while (output.Count < r.MaxNewTokens)
        {
            logitsFile.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(logits.Span));
            int next = ArgMax(logits.Span);
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
        WriteJson(console.Out, text, output, prompt.Length, matched, clock.Elapsed.TotalSeconds, backend, loaded, loadSeconds, prefillSeconds, decodeSeconds);
        return 0;
    }

    private static ForwardBatch Step(int[] tokens, int cached, int[] pages, int logitRow) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [pages], PageSize, [logitRow]);

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best]) best = i;
        }
        return best;
    }

    private static void WriteJson(TextWriter console, string? text, List<int> output, int promptTokens, int? matched, double seconds, IBackend backend,
        LoadedModel loaded, double loadSeconds, double prefillSeconds, double decodeSeconds)
    {
        var stream = new MemoryStream();
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
        console.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
