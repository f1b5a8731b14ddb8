extern alias gen;

using Microsoft.CodeAnalysis;
using Specialized.Tests.Support;

namespace Specialized.Tests.Generator;

/// <summary>One test per SPEC diagnostic: its id, and the line and column it points at in config.json.</summary>
public sealed class DiagnosticTests
{
    private const string Path = "/checkout/models/bad/config.json";

    /// <summary>A valid config, one key a line, so tests can break a known line.</summary>
    private static string Config(params (string Key, string Value)[] changes)
    {
        var pairs = new List<(string Key, string Value)>
        {
            ("architectures", "[\"Qwen2ForCausalLM\"]"),
            ("model_type", "\"qwen2\""),
            ("vocab_size", "1000"),
            ("hidden_size", "64"),
            ("intermediate_size", "128"),
            ("num_hidden_layers", "2"),
            ("num_attention_heads", "4"),
            ("num_key_value_heads", "2"),
            ("rms_norm_eps", "1e-06"),
            ("rope_theta", "10000.0"),
            ("hidden_act", "\"silu\""),
            ("tie_word_embeddings", "true"),
        };
        foreach (var (key, value) in changes)
        {
            int i = pairs.FindIndex(p => p.Key == key);
            if (value == "<remove>") pairs.RemoveAt(i);
            else if (i >= 0) pairs[i] = (key, value);
            else pairs.Add((key, value));
        }
        return "{\n" + string.Join(",\n", pairs.Select(p => $"  \"{p.Key}\": {p.Value}")) + "\n}\n";
    }

    /// <summary>The 1-based line of a key in <see cref="Config"/>'s output.</summary>
    private static int LineOf(string json, string key) =>
        json.Split('\n').Select((text, i) => (text, i)).First(l => l.text.Contains($"\"{key}\"")).i + 1;

    private static Diagnostic Single(string json, string id)
    {
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile(Path, json));
        Assert.Empty(result.GeneratedSources);
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(Path, d.Location.GetLineSpan().Path);
        return d;
    }

    private static int Line(Diagnostic d) => d.Location.GetLineSpan().StartLinePosition.Line + 1;
    private static int Column(Diagnostic d) => d.Location.GetLineSpan().StartLinePosition.Character + 1;

    [Fact]
    public void SPEC001_malformed_json_points_at_the_line_and_column()
    {
        string json = "{\n  \"model_type\": \"qwen2\",\n  \"hidden_size\": 64\n  \"vocab_size\": 10\n}";
        Diagnostic d = Single(json, "SPEC001");
        Assert.Equal(4, Line(d));
        Assert.Equal(3, Column(d));
        Assert.Contains("line 4, column 3", d.GetMessage());
    }

    [Fact]
    public void SPEC001_truncated_file()
    {
        Diagnostic d = Single("{\n  \"model_type\": \"qw", "SPEC001");
        Assert.Contains("unterminated string", d.GetMessage());
    }

    [Fact]
    public void SPEC002_missing_required_key()
    {
        Diagnostic d = Single(Config(("hidden_size", "<remove>")), "SPEC002");
        Assert.Contains("\"hidden_size\"", d.GetMessage());
        Assert.Equal(1, Line(d));
    }

    [Fact]
    public void SPEC003_wrong_type_points_at_the_value()
    {
        string json = Config(("num_hidden_layers", "\"24\""));
        Diagnostic d = Single(json, "SPEC003");
        Assert.Equal(LineOf(json, "num_hidden_layers"), Line(d));
        Assert.Equal(24, Column(d));
        Assert.Contains("must be an integer, not a string", d.GetMessage());
    }

    [Fact]
    public void SPEC003_fractional_size()
    {
        string json = Config(("hidden_size", "64.5"));
        Diagnostic d = Single(json, "SPEC003");
        Assert.Contains("the number 64.5", d.GetMessage());
    }

    [Fact]
    public void SPEC004_unsupported_model_type()
    {
        string json = Config(("model_type", "\"llama\""));
        Diagnostic d = Single(json, "SPEC004");
        Assert.Equal(LineOf(json, "model_type"), Line(d));
        Assert.Contains("\"llama\"", d.GetMessage());
    }

    [Fact]
    public void SPEC004_unsupported_architecture_list()
    {
        string json = Config(("architectures", "[\"LlamaForCausalLM\"]"));
        Diagnostic d = Single(json, "SPEC004");
        Assert.Equal(LineOf(json, "architectures"), Line(d));
    }

    [Fact]
    public void SPEC005_unsupported_activation()
    {
        string json = Config(("hidden_act", "\"gelu\""));
        Diagnostic d = Single(json, "SPEC005");
        Assert.Equal(LineOf(json, "hidden_act"), Line(d));
    }

    [Fact]
    public void SPEC006_unsupported_rope_scaling()
    {
        string json = Config(("rope_scaling", "{\"type\": \"yarn\", \"factor\": 4.0}"));
        Diagnostic d = Single(json, "SPEC006");
        Assert.Equal(LineOf(json, "rope_scaling"), Line(d));
        Assert.Contains("\"yarn\"", d.GetMessage());
    }

    [Fact]
    public void SPEC006_unsupported_rope_type_in_transformers5_rope_parameters()
    {
        string json = Config(("rope_theta", "<remove>"), ("rope_parameters", "{\"rope_theta\": 1000000.0, \"rope_type\": \"dynamic\"}"));
        Single(json, "SPEC006");
    }

    [Fact]
    public void SPEC007_heads_not_dividing_hidden_size()
    {
        string json = Config(("num_attention_heads", "5"), ("num_key_value_heads", "5"));
        Diagnostic d = Single(json, "SPEC007");
        Assert.Equal(LineOf(json, "num_attention_heads"), Line(d));
        Assert.Contains("not divisible", d.GetMessage());
    }

    [Fact]
    public void SPEC007_kv_heads_not_dividing_heads()
    {
        string json = Config(("num_key_value_heads", "3"));
        Diagnostic d = Single(json, "SPEC007");
        Assert.Equal(LineOf(json, "num_key_value_heads"), Line(d));
    }

    [Fact]
    public void SPEC007_non_positive_size()
    {
        string json = Config(("intermediate_size", "0"));
        Diagnostic d = Single(json, "SPEC007");
        Assert.Equal(LineOf(json, "intermediate_size"), Line(d));
        Assert.Contains("must be positive", d.GetMessage());
    }

    [Fact]
    public void SPEC007_layer_types_of_the_wrong_length()
    {
        string json = Config(("layer_types", "[\"full_attention\"]"));
        Single(json, "SPEC007");
    }

    [Fact]
    public void SPEC008_value_out_of_range()
    {
        string json = Config(("rms_norm_eps", "0"));
        Diagnostic d = Single(json, "SPEC008");
        Assert.Equal(LineOf(json, "rms_norm_eps"), Line(d));
    }

    [Theory]
    [InlineData("num_hidden_layers", "100000000", "above the limit of 1024")]
    [InlineData("hidden_size", "99999999999", "above the limit of 65536")]
    [InlineData("vocab_size", "4194304", "above the limit of 2097152")]
    [InlineData("max_position_embeddings", "1073741824", "above the limit of 16777216")]
    [InlineData("head_dim", "4096", "above the limit of 1024")]
    [InlineData("eos_token_id", "4294967296", "outside the range of a 32-bit integer")]
    public void SPEC008_sizes_above_their_limit(string key, string value, string message)
    {
        string json = Config((key, value));
        Diagnostic d = Single(json, "SPEC008");
        Assert.Equal(LineOf(json, key), Line(d));
        Assert.Contains(message, d.GetMessage());
    }

    [Theory]
    [InlineData("vocab_size", "the embedding matrix", "vocab_size=2097152 hidden_size=2048")]
    [InlineData("num_attention_heads", "the fused q/k/v projection", "hidden_size=65536")]
    [InlineData("head_dim", "the fused q/k/v projection", "hidden_size=65536 head_dim=1024 num_attention_heads=1024 num_key_value_heads=1024")]
    [InlineData("intermediate_size", "the fused gate/up projection", "intermediate_size=262144 hidden_size=8192")]
    public void SPEC008_tensors_with_more_elements_than_an_int_indexes(string key, string tensor, string sizes)
    {
        string json = Config(sizes.Split(' ').Select(s => (s.Split('=')[0], s.Split('=')[1])).ToArray());
        Diagnostic d = Single(json, "SPEC008");
        Assert.Equal(LineOf(json, key), Line(d));
        Assert.StartsWith(tensor, d.GetMessage());
        Assert.Contains("above the limit of 2147483647 for one tensor", d.GetMessage());
    }

    [Theory]
    [InlineData("rope_theta", "1e999")]
    [InlineData("rms_norm_eps", "1e999")]
    [InlineData("rope_scaling", "{\"type\": \"linear\", \"factor\": 1e999}")]
    [InlineData("rope_parameters", "{\"rope_theta\": 1e999, \"rope_type\": \"default\"}")]
    public void SPEC008_numbers_beyond_double_range(string key, string value)
    {
        string json = Config(("rope_theta", key == "rope_parameters" ? "<remove>" : "10000.0"), (key, value));
        Diagnostic d = Single(json, "SPEC008");
        Assert.Equal(LineOf(json, key), Line(d));
        Assert.Contains("(1e999) is not a finite number", d.GetMessage());
    }

    [Fact]
    public void SPEC099_an_emitter_failure_is_a_diagnostic_naming_the_file()
    {
        // A spec the parser never produces: no sliding window for either layer.
        var spec = gen::Specialized.Models.ConfigParser.Parse(Config()).Spec! with
        {
            SlidingWindows = gen::Specialized.Models.EquatableArray<int>.Empty,
        };
        Assert.False(gen::Specialized.Generators.ModelGenerator.TryEmit(spec, "Bad", "Acme", Path, out string? source, out var error));
        Assert.Null(source);
        Assert.NotNull(error);
        Assert.Equal("SPEC099", error.Id);
        Assert.Contains("Acme.Bad from bad/config.json", error.Message);
    }

    [Fact]
    public void SPEC009_two_configs_with_the_same_type_name()
    {
        var (result, _) = GeneratorHarness.Run(
            new("/a/same/config.json", Config()),
            new GeneratorHarness.ModelFile("/b/same/config.json", Config()));
        Assert.Single(result.GeneratedSources);
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("SPEC009", d.Id);
        Assert.Equal("/b/same/config.json", d.Location.GetLineSpan().Path);
    }

    [Fact]
    public void SPEC010_invalid_type_name_metadata()
    {
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile(Path, Config(), TypeName: "not a name"));
        Assert.Empty(result.GeneratedSources);
        Assert.Equal("SPEC010", Assert.Single(result.Diagnostics).Id);
    }

    [Fact]
    public void Several_problems_are_all_reported()
    {
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile(Path, Config(("hidden_act", "\"relu\""), ("rms_norm_eps", "-1"))));
        Assert.Equal(["SPEC005", "SPEC008"], result.Diagnostics.Select(d => d.Id).Order());
    }
}
