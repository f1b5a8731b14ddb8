using System.Text.Json;
using Specialized.Tests.Support;
using Specialized.Tests.Text;
using Specialized.Weights;
using static Specialized.Tests.Cli.InProcessCli;

namespace Specialized.Tests.Cli;

/// <summary>
/// <c>specialized make-random-checkpoint</c>, and <c>specialized generate</c> on what it writes: a checkpoint with no
/// tokenizer, of a config built into the binary or of one that is not.
/// </summary>
public sealed class RandomCheckpointCommandTests : IDisposable
{
    // Dims no models/*/config.json has (head_dim 16, three heads sharing one KV head), so only the generic kernels run it.
    private const string GenericConfig = """
        {
          "architectures": ["Qwen2ForCausalLM"],
          "bos_token_id": 1,
          "eos_token_id": 2,
          "hidden_act": "silu",
          "hidden_size": 48,
          "intermediate_size": 96,
          "max_position_embeddings": 64,
          "model_type": "qwen2",
          "num_attention_heads": 3,
          "num_hidden_layers": 1,
          "num_key_value_heads": 1,
          "rms_norm_eps": 1e-05,
          "rope_theta": 10000.0,
          "tie_word_embeddings": false,
          "torch_dtype": "bfloat16",
          "use_sliding_window": false,
          "vocab_size": 320
        }
        """;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string TinyConfig => Path.Combine(RepoPaths.Models, "tiny", "config.json");

    private string GenericConfigFile()
    {
        string path = _temp.File("generic.json");
        File.WriteAllText(path, GenericConfig);
        return path;
    }

    private string Make(string config, int seed, params string[] more)
    {
        string folder = _temp.File($"checkpoint-{Guid.NewGuid():N}");
        Result r = Run("", ["make-random-checkpoint", "--config", config, "--out", folder, "--seed", seed.ToString(), .. more]);
        Assert.True(r.Code == 0, r.Error);
        return folder;
    }

    private static byte[] Weights(string folder) => File.ReadAllBytes(Path.Combine(folder, Checkpoint.SingleFileName));

    [Fact]
    public void The_same_seed_writes_the_same_bytes_and_another_seed_other_ones()
    {
        string config = GenericConfigFile();
        string first = Make(config, seed: 7), again = Make(config, seed: 7), other = Make(config, seed: 8);

        Assert.Equal(Weights(first), Weights(again));
        Assert.NotEqual(Weights(first), Weights(other));
        Assert.Equal(GenericConfig, File.ReadAllText(Path.Combine(first, "config.json")));
        Assert.False(File.Exists(Path.Combine(first, "tokenizer.json")));
    }

    [Fact]
    public void Tokenizer_copies_the_tokenizer_files_along()
    {
        string folder = Make(GenericConfigFile(), seed: 1, "--tokenizer", TextTestData.TokenizerFolder);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(TextTestData.TokenizerFolder, file)), File.ReadAllBytes(Path.Combine(folder, file)));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Generate_without_a_tokenizer_prints_null_text_and_which_build_ran(bool specialized)
    {
        string folder = Make(specialized ? TinyConfig : GenericConfigFile(), seed: 3);

        // --ignore-eos: the count is two whatever tokens the random weights pick.
        Result r = Run("", "generate", "--model", folder, "--device", "cpu", "--input-ids", "1,2,3", "--max-new-tokens", "2",
            "--temperature", "0", "--ignore-eos", "--json");
        Assert.True(r.Code == 0, r.Error);

        using JsonDocument json = JsonDocument.Parse(r.Out);
        JsonElement root = json.RootElement, meta = root.GetProperty("meta_info");
        Assert.Equal(JsonValueKind.Null, root.GetProperty("text").ValueKind);
        Assert.Equal(2, root.GetProperty("output_ids").GetArrayLength());
        Assert.Equal(3, meta.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(specialized, meta.GetProperty("specialized").GetBoolean());
        Assert.Equal("cpu", meta.GetProperty("device").GetString());
    }
}
