using Specialized.Models;

namespace Specialized.Tests.Models;

/// <summary>The shared config reader on both generations of transformers' files, and its runtime errors.</summary>
public sealed class ConfigParserTests
{
    private const string Transformers5Config = """
        {
          "architectures": ["Qwen2ForCausalLM"],
          "bos_token_id": null,
          "dtype": "bfloat16",
          "eos_token_id": [151645, 151643],
          "hidden_act": "silu",
          "hidden_size": 1536,
          "intermediate_size": 8960,
          "layer_types": ["full_attention", "full_attention", "sliding_attention", "sliding_attention"],
          "max_position_embeddings": 32768,
          "max_window_layers": 21,
          "model_type": "qwen2",
          "num_attention_heads": 12,
          "num_hidden_layers": 4,
          "num_key_value_heads": 2,
          "pad_token_id": null,
          "rms_norm_eps": 1e-06,
          "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
          "sliding_window": 4096,
          "tie_word_embeddings": true,
          "transformers_version": "5.7.0",
          "use_sliding_window": true,
          "vocab_size": 151936
        }
        """;

    [Fact]
    public void Reads_a_transformers5_config()
    {
        ModelSpec spec = ModelConfig.Parse(Transformers5Config);
        Assert.Equal(1_000_000.0, spec.RopeTheta);
        Assert.Equal("none", spec.RopeScalingType);
        Assert.Equal("bfloat16", spec.DType);
        Assert.Null(spec.BosTokenId);
        Assert.Equal([151645, 151643], spec.EosTokenIds);
        Assert.Equal([0, 0, 4096, 4096], spec.SlidingWindows);
        Assert.Equal(128, spec.HeadDim);
    }

    [Fact]
    public void The_size_limits_admit_the_largest_qwen2()
    {
        // Qwen2-72B's published config.json, the keys that are sizes.
        string json = """
            {"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568,
             "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
             "max_position_embeddings": 131072, "sliding_window": 131072, "max_window_layers": 80,
             "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": false}
            """;
        ModelSpec spec = ModelConfig.Parse(json);
        Assert.Equal(10240, spec.QkvSize);
        Assert.Equal(59136, spec.GateUpSize);
        Assert.Equal(72_706_203_648, spec.ParameterCount);
    }

    private const string Transformers4Config = """
        {"model_type": "qwen2", "vocab_size": 10, "hidden_size": 64, "intermediate_size": 16, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "rope_theta": 10000.0, "torch_dtype": "bfloat16"}
        """;

    private static string With(string json, string members) => json.Replace("\"model_type\"", members + ", \"model_type\"");

    [Theory]
    [InlineData("151643", 151643)]
    [InlineData("[151643]", 151643)]
    [InlineData("[151643, 151644]", 151643)]
    [InlineData("[]", null)]
    [InlineData("null", null)]
    public void Bos_token_id_may_be_an_int_or_a_list(string value, int? expected)
    {
        ModelSpec spec = ModelConfig.Parse(With(Transformers4Config, $"\"bos_token_id\": {value}"));
        Assert.Equal(expected, spec.BosTokenId);
    }

    [Fact]
    public void Token_id_lists_must_hold_integers()
    {
        ConfigParseResult result = ConfigParser.Parse(With(Transformers4Config, "\"bos_token_id\": [1, \"2\"]"));
        Assert.Equal("bos_token_id entries must be integers", Assert.Single(result.Diagnostics).Message);
    }

    [Fact]
    public void An_explicit_head_dim_need_not_be_hidden_over_heads()
    {
        ModelSpec spec = ModelConfig.Parse(With(Transformers4Config, "\"head_dim\": 32"));
        Assert.Equal(32, spec.HeadDim);
        Assert.Equal(4 * 32, spec.QSize);
        Assert.Equal(2 * 32, spec.KvSize);
        Assert.Equal(4 * 32 + 2 * 2 * 32, spec.QkvSize);
    }

    [Fact]
    public void Reads_transformers4_linear_rope_scaling()
    {
        ModelSpec spec = ModelConfig.Parse(With(Transformers4Config, "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"));
        Assert.Equal("linear", spec.RopeScalingType);
        Assert.Equal(2.0, spec.RopeScalingFactor);
        Assert.Equal(10000.0, spec.RopeTheta);
        Assert.Contains(";rope_scaling=linear:2;", spec.Fingerprint);
    }

    [Fact]
    public void Older_configs_use_max_window_layers_for_sliding_layers()
    {
        string json = """
            {"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 4,
             "num_attention_heads": 2, "use_sliding_window": true, "sliding_window": 64, "max_window_layers": 3}
            """;
        ModelSpec spec = ModelConfig.Parse(json);
        Assert.Equal([0, 0, 0, 64], spec.SlidingWindows);
        Assert.Equal(2, spec.NumKeyValueHeads);
        Assert.Equal(10000.0, spec.RopeTheta);
        Assert.False(spec.TieWordEmbeddings);
    }

    [Fact]
    public void Sliding_window_is_ignored_unless_enabled()
    {
        ModelSpec spec = ModelConfig.Parse(Transformers5Config.Replace("\"use_sliding_window\": true", "\"use_sliding_window\": false"));
        Assert.All(spec.SlidingWindows, w => Assert.Equal(0, w));
    }

    [Fact]
    public void Linear_rope_scaling_changes_the_fingerprint()
    {
        ModelSpec plain = ModelConfig.Parse(Transformers5Config);
        ModelSpec scaled = ModelConfig.Parse(Transformers5Config.Replace("\"rope_type\": \"default\"", "\"rope_type\": \"linear\", \"factor\": 2.0"));
        Assert.Equal("linear", scaled.RopeScalingType);
        Assert.Equal(2.0, scaled.RopeScalingFactor);
        Assert.NotEqual(plain.Fingerprint, scaled.Fingerprint);
    }

    [Fact]
    public void Fingerprint_ignores_what_does_not_change_the_math()
    {
        ModelSpec a = ModelConfig.Parse(Transformers5Config);
        ModelSpec b = ModelConfig.Parse(Transformers5Config.Replace("\"max_position_embeddings\": 32768", "\"max_position_embeddings\": 131072")
            .Replace("[151645, 151643]", "151643"));
        Assert.NotEqual(a, b);
        Assert.Equal(a.Fingerprint, b.Fingerprint);
        Assert.Equal(a.FingerprintHash, b.FingerprintHash);
    }

    [Fact]
    public void Runtime_errors_name_the_file_line_and_id()
    {
        string json = "{\n  \"model_type\": \"qwen2\",\n  \"hidden_size\": \"wide\"\n}";
        var e = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json, "/ckpt/config.json"));
        Assert.Contains("/ckpt/config.json(3,18): error SPEC003: \"hidden_size\" must be an integer, not a string", e.Message);
        Assert.Contains(e.Diagnostics, d => d.Id == "SPEC002");
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"a\": tru}")]
    [InlineData("{\"a\": 1,}")]
    [InlineData("{\"a\": \"\\x\"}")]
    [InlineData("{\"a\": 01}")]
    [InlineData("{\"a\": 1} x")]
    [InlineData("{\"a\": -}")]
    [InlineData("{\"a\": 1e}")]
    public void Malformed_or_wrong_json_is_an_error_not_an_exception(string json)
    {
        ConfigParseResult result = ConfigParser.Parse(json);
        Assert.Null(result.Spec);
        Assert.NotEmpty(result.Diagnostics);
        Assert.All(result.Diagnostics, d => Assert.True(d.Position.Line >= 1 && d.Position.Column >= 1));
    }

    [Fact]
    public void Deeply_nested_json_is_rejected_without_overflowing_the_stack()
    {
        string json = "{\"a\": " + new string('[', 10_000) + new string(']', 10_000) + "}";
        ConfigParseResult result = ConfigParser.Parse(json);
        Assert.Equal("SPEC001", Assert.Single(result.Diagnostics).Id);
    }
}
