using System.Text.Json;
using System.Text.Json.Nodes;
using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>Missing or malformed tokenizer files fail with TokenizerLoadException naming the file and the fix.</summary>
public sealed class TokenizerLoadTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("specialized-tokenizer-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // A toy Qwen2-shaped tokenizer: "a b" merges to "ab"; ĠĠ is two spaces in the byte-level alphabet.
    private static JsonObject ToyTokenizerJson() => new()
    {
        ["added_tokens"] = new JsonArray(
            new JsonObject { ["id"] = 6, ["content"] = "<|endoftext|>", ["special"] = true, ["normalized"] = false },
            new JsonObject { ["id"] = 7, ["content"] = "<|im_end|>", ["special"] = true, ["normalized"] = false }),
        ["normalizer"] = new JsonObject { ["type"] = "NFC" },
        ["pre_tokenizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2PreTokenizer.Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }),
        },
        ["model"] = new JsonObject
        {
            ["type"] = "BPE",
            ["vocab"] = new JsonObject { ["a"] = 0, ["b"] = 1, ["ab"] = 2, ["Ġ"] = 3, ["ĠĠ"] = 4, ["Ġab"] = 5 },
            ["merges"] = new JsonArray(new JsonArray("a", "b"), new JsonArray("Ġ", "Ġ"), new JsonArray("Ġ", "ab")),
        },
    };

    private static JsonObject ToyConfig() => new() { ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>", ["chat_template"] = "{{ x }}" };

    private void Write(JsonNode? tokenizer, JsonNode? config)
    {
        if (tokenizer is not null) File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), tokenizer.ToJsonString());
        if (config is not null) File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), config.ToJsonString());
    }

    private TokenizerLoadException LoadFails(string file, string messagePart)
    {
        var e = Assert.Throws<TokenizerLoadException>(() => Qwen2Tokenizer.Load(_folder));
        Assert.Equal(Path.Combine(_folder, file), e.Path);
        Assert.StartsWith(e.Path, e.Message);
        Assert.Contains(messagePart, e.Message);
        return e;
    }

    [Fact]
    public void Loads_a_toy_tokenizer_with_pair_or_string_merges()
    {
        Write(ToyTokenizerJson(), ToyConfig());
        Qwen2Tokenizer pairs = Qwen2Tokenizer.Load(_folder);
        Assert.Equal([2, 5, 7], pairs.Encode("ab ab<|im_end|>"));
        Assert.Equal((7, 6, 8, "{{ x }}"), (pairs.EosTokenId, pairs.PadTokenId!.Value, pairs.VocabSize, pairs.ChatTemplateSource));

        JsonObject strings = ToyTokenizerJson();
        strings["model"]!["merges"] = new JsonArray("a b", "Ġ Ġ", "Ġ ab");
        Write(strings, null);
        Assert.Equal([2, 5, 7], Qwen2Tokenizer.Load(_folder).Encode("ab ab<|im_end|>"));
    }

    [Fact]
    public void Accepts_tokens_in_the_config_written_as_objects()
    {
        JsonObject config = ToyConfig();
        config["eos_token"] = new JsonObject { ["content"] = "<|endoftext|>", ["special"] = true };
        config.Remove("pad_token");
        Write(ToyTokenizerJson(), config);
        Qwen2Tokenizer tokenizer = Qwen2Tokenizer.Load(_folder);
        Assert.Equal(6, tokenizer.EosTokenId);
        Assert.Null(tokenizer.PadTokenId);
    }

    [Fact]
    public void A_missing_folder_is_named()
    {
        string missing = Path.Combine(_folder, "nope");
        var e = Assert.Throws<TokenizerLoadException>(() => Qwen2Tokenizer.Load(missing));
        Assert.Equal(missing, e.Path);
        Assert.Contains("checkpoint folder", e.Message);
    }

    [Fact]
    public void A_missing_tokenizer_json_is_named()
    {
        Write(null, ToyConfig());
        LoadFails("tokenizer.json", "not found");
    }

    [Fact]
    public void A_missing_tokenizer_config_is_named()
    {
        Write(ToyTokenizerJson(), null);
        LoadFails("tokenizer_config.json", "not found");
    }

    [Fact]
    public void Malformed_json_is_named_with_its_line()
    {
        Write(null, ToyConfig());
        File.WriteAllText(Path.Combine(_folder, "tokenizer.json"), "{\n  \"model\": {\n    \"vocab\": {,\n");
        var e = LoadFails("tokenizer.json", "not valid JSON (line 3");
        Assert.IsAssignableFrom<JsonException>(e.InnerException);

        Write(ToyTokenizerJson(), null);
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), "[1, 2");
        LoadFails("tokenizer_config.json", "not valid JSON");
    }

    [Fact]
    public void A_tokenizer_json_without_vocab_or_with_bad_merges_is_refused()
    {
        JsonObject noVocab = ToyTokenizerJson();
        ((JsonObject)noVocab["model"]!).Remove("vocab");
        Write(noVocab, ToyConfig());
        LoadFails("tokenizer.json", "\"vocab\"");

        JsonObject badMerge = ToyTokenizerJson();
        badMerge["model"]!["merges"] = new JsonArray("a b", "abc");
        Write(badMerge, null);
        LoadFails("tokenizer.json", "model.merges[1]");
    }

    [Fact]
    public void A_merge_of_tokens_the_vocabulary_lacks_is_refused()
    {
        JsonObject tokenizer = ToyTokenizerJson();
        tokenizer["model"]!["merges"] = new JsonArray("a b", "a c");
        Write(tokenizer, ToyConfig());
        LoadFails("tokenizer.json", "merges");
    }

    [Fact]
    public void Another_kind_of_tokenizer_is_refused()
    {
        JsonObject otherRegex = ToyTokenizerJson();
        otherRegex["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\p{N}{1,3}| ?\p{L}+";
        Write(otherRegex, ToyConfig());
        LoadFails("tokenizer.json", "Qwen2's Sequence");

        JsonObject unigram = ToyTokenizerJson();
        unigram["model"]!["type"] = "Unigram";
        Write(unigram, null);
        LoadFails("tokenizer.json", "model.type");

        JsonObject lstrip = ToyTokenizerJson();
        lstrip["added_tokens"]![0]!["lstrip"] = true;
        Write(lstrip, null);
        LoadFails("tokenizer.json", "lstrip");
    }

    [Fact]
    public void An_eos_token_the_tokenizer_lacks_is_refused()
    {
        JsonObject config = ToyConfig();
        config["eos_token"] = "</s>";
        Write(ToyTokenizerJson(), config);
        LoadFails("tokenizer_config.json", "eos_token \"</s>\"");

        config.Remove("eos_token");
        Write(null, config);
        LoadFails("tokenizer_config.json", "eos_token is missing");
    }
}
