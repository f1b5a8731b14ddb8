using System.CommandLine;
using System.Text.Json;
using Specialized.Cli;
using Specialized.Tests.Engine;
using Specialized.Tests.Support;
using Specialized.Text;
using static Specialized.Tests.Cli.InProcessCli;

namespace Specialized.Tests.Cli;

/// <summary>The <c>specialized</c> command tree run in-process on the tiny text model, with stdin, stdout and stderr as strings.</summary>
public sealed class CliTests(TinyTextModel model) : IClassFixture<TinyTextModel>
{
    private Specialized.Engine Engine() => Specialized.Engine.Create(model.Folder, new EngineOptions { Device = "cpu" });

    [Theory]
    [InlineData(0f, 0L)]
    [InlineData(0.9f, 7L)]
    public void Generate_json_is_what_the_engine_generates(float temperature, long seed)
    {
        Result r = Run("", "generate", "--model", model.Folder, "--device", "cpu", "--prompt", "The capital of France is",
            "--max-new-tokens", "8", "--temperature", temperature.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", seed.ToString(), "--json");
        Assert.True(r.Code == 0, r.Error);

        GenerateOutput expected;
        using (var engine = Engine())
        {
            expected = engine.Generate("The capital of France is", new SamplingParams { MaxNewTokens = 8, Temperature = temperature, Seed = seed });
        }
        using JsonDocument json = JsonDocument.Parse(r.Out);
        JsonElement root = json.RootElement, meta = root.GetProperty("meta_info");
        Assert.Equal(expected.Text, root.GetProperty("text").GetString());
        Assert.Equal(expected.OutputIds, root.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected.MetaInfo.PromptTokens, meta.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.MetaInfo.CompletionTokens, meta.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.MetaInfo.FinishReason!.TypeName, meta.GetProperty("finish_reason").GetProperty("type").GetString());
        Assert.Equal("cpu", meta.GetProperty("device").GetString());
    }

    [Fact]
    public void Chat_keeps_the_conversation_resets_on_request_and_stops_at_exit()
    {
        Result r = Run("Hello\nHow are you?\n/reset\nHi\n/exit\nnever read\n",
            "chat", "--model", model.Folder, "--device", "cpu", "--max-new-tokens", "5", "--temperature", "0");
        Assert.True(r.Code == 0, r.Error);

        var greedy = new SamplingParams { MaxNewTokens = 5, Temperature = 0 };
        using var engine = Engine();
        string first = engine.Generate([ChatMessage.User("Hello")], greedy).Text!;
        string second = engine.Generate([ChatMessage.User("Hello"), ChatMessage.Assistant(first), ChatMessage.User("How are you?")], greedy).Text!;
        string afterReset = engine.Generate([ChatMessage.User("Hi")], greedy).Text!;
        Assert.Equal($"{first}\n{second}\n{afterReset}\n", r.Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Bench_prints_offline_throughput_metrics_and_writes_them_as_json()
    {
        using var folder = new TempFolder();
        Result r = Run("", "bench", "--model", model.Folder, "--device", "cpu", "--num-prompts", "3", "--input-len", "8", "--output-len", "3",
            "--json", folder.File("bench.json"));
        Assert.True(r.Code == 0, r.Error);
        foreach (string metric in new[] { "Request throughput (req/s):", "Input token throughput (tok/s):", "Output token throughput (tok/s):",
            "Total token throughput (tok/s):", "Mean / median TTFT (ms):", "Median / P99 ITL (ms):" })
        {
            Assert.Contains(metric, r.Out);
        }
        Assert.Matches(@"Total input tokens:\s+24\n", r.Out.ReplaceLineEndings("\n"));
        Assert.Matches(@"Total generated tokens:\s+9\n", r.Out.ReplaceLineEndings("\n"));

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(folder.File("bench.json")));
        Assert.Equal(9, json.RootElement.GetProperty("total_output_tokens").GetInt64());
        Assert.True(json.RootElement.GetProperty("output_throughput").GetDouble() > 0);
    }

    [Fact]
    public void Logits_writes_one_vocabulary_row_per_greedy_token_and_agrees_with_the_engine()
    {
        using var folder = new TempFolder();
        Result r = Run("", "logits", "--model", model.Folder, "--device", "cpu", "--input-ids", "9707,11,1879", "--max-new-tokens", "4",
            "--ignore-eos", "--out", folder.File("logits.bin"));
        Assert.True(r.Code == 0, r.Error);

        using var engine = Engine();
        GenerateOutput expected = engine.Generate([9707, 11, 1879], new SamplingParams { MaxNewTokens = 4, Temperature = 0, IgnoreEos = true });
        using JsonDocument json = JsonDocument.Parse(r.Out);
        Assert.Equal(expected.OutputIds, json.RootElement.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(4L * engine.Spec.VocabSize * sizeof(float), new FileInfo(folder.File("logits.bin")).Length);
    }

    [Theory]
    [InlineData("generate --model {missing} --prompt Hi", "does not exist")]
    [InlineData("generate --model {model} --device cpu --prompt Hi --top-p 2", "top_p")]
    [InlineData("generate --model {model} --device cpu --input-ids 1,x", "--input-ids")]
    [InlineData("generate --model {model} --device cpu --input-ids 1,99999999", "99999999")]
    [InlineData("generate --model {badconfig} --device cpu --prompt Hi", "config.json")]
    [InlineData("generate --model {model} --device cpu --prompt Hi --kv-cache-dtype fp16", "--kv-cache-dtype")]
    [InlineData("tokenize --model {missing} --text Hi", "tokenizer")]
    [InlineData("make-random-checkpoint --config {model}/config.json --out {missing} --tokenizer {missing}", "tokenizer.json")]
    [InlineData("bench --model {model} --device cpu --input-len 600 --output-len 1", "context length")]
    [InlineData("generate --prompt Hi", "--model")]
    public void A_users_mistake_is_one_error_line_and_a_non_zero_exit(string command, string mentioned)
    {
        using var folder = new TempFolder();
        string badConfig = Directory.CreateDirectory(folder.File("bad")).FullName;
        File.WriteAllText(Path.Combine(badConfig, "config.json"), """{"model_type": "qwen2", "vocab_size": }""");
        string[] args = command.Split(' ').Select(a => a.Replace("{model}", model.Folder).Replace("{missing}", folder.File("missing"))
            .Replace("{badconfig}", badConfig)).ToArray();

        Result r = Run("", args);
        Assert.Equal(1, r.Code);
        Assert.Equal("", r.Out);
        string line = Assert.Single(r.ErrorLines);
        Assert.Contains(mentioned, line);
        Assert.DoesNotContain("   at ", r.Error);
    }

    [Fact]
    public void Every_command_has_help()
    {
        RootCommand root = SpecializedCommandLine.Create(new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, false));
        Assert.Contains(root.Subcommands, c => c.Name == "chat");
        foreach (string[] args in root.Subcommands.Select(c => new[] { c.Name, "--help" }).Append(["--help"]))
        {
            Result r = Run("", args);
            Assert.Equal(0, r.Code);
            Assert.Contains("Usage:", r.Out);
            Assert.Contains(args.Length == 2 ? args[0] : "specialized", r.Out);
        }
    }
}
