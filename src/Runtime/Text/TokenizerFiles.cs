using System.Text.Json;

namespace Specialized.Text;

/// <summary>What tokenizer.json says, reduced to what a Qwen2 tokenizer needs.</summary>
internal sealed record TokenizerJsonContent(
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<string> Merges,
    IReadOnlyList<AddedToken> AddedTokens,
    bool NormalizesToNfc);

/// <summary>What tokenizer_config.json says: the tokens that end a reply and pad a batch, and the Jinja chat template.</summary>
internal sealed record TokenizerConfigContent(string EosToken, string? PadToken, string? ChatTemplate);

/// <summary>
/// Reads a checkpoint's tokenizer.json and tokenizer_config.json, and refuses, with a message that says what to
/// change, anything this engine's Qwen2 tokenizer would not reproduce exactly.
/// </summary>
internal static class TokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string TokenizerConfigJson = "tokenizer_config.json";

    public static TokenizerJsonContent ReadTokenizerJson(string path)
    {
        using JsonDocument document = Parse(path);
        JsonElement root = RequireObject(document.RootElement, path, "the top level");

        JsonElement model = RequireProperty(root, "model", JsonValueKind.Object, path);
        if (model.TryGetProperty("type", out JsonElement type) && type.GetString() != "BPE")
        {
            throw Unsupported(path, $"model.type is \"{type}\"; only byte-level BPE (\"BPE\") is supported");
        }
        RequireQwen2PreTokenizer(root, path);
        RejectTrue(model, "byte_fallback", path);
        RejectTrue(model, "ignore_merges", path);
        RejectNonEmpty(model, "continuing_subword_prefix", path);
        RejectNonEmpty(model, "end_of_word_suffix", path);

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in RequireProperty(model, "vocab", JsonValueKind.Object, path).EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
            {
                throw Malformed(path, $"model.vocab[\"{entry.Name}\"] is {entry.Value}, not a token id");
            }
            vocab[entry.Name] = id;
        }

        var merges = new List<string>();
        foreach (JsonElement merge in RequireProperty(model, "merges", JsonValueKind.Array, path).EnumerateArray())
        {
            merges.Add(ReadMerge(merge, path, merges.Count));
        }

        return new TokenizerJsonContent(vocab, merges, ReadAddedTokens(root, path), ReadNormalizer(root, path));
    }

    public static TokenizerConfigContent ReadTokenizerConfig(string path)
    {
        using JsonDocument document = Parse(path);
        JsonElement root = RequireObject(document.RootElement, path, "the top level");
        string eos = ReadTokenName(root, "eos_token", path)
            ?? throw Malformed(path, "eos_token is missing or null: set it to the token that ends a reply, e.g. \"<|im_end|>\"");
        string? template = root.TryGetProperty("chat_template", out JsonElement t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        return new TokenizerConfigContent(eos, ReadTokenName(root, "pad_token", path), template);
    }

    // Merges are "a b" strings in older files and [a, b] pairs in newer ones; a byte-level token never holds a
    // space, so the string form is unambiguous.
    private static string ReadMerge(JsonElement merge, string path, int index)
    {
        if (merge.ValueKind == JsonValueKind.String && merge.GetString()!.Split(' ') is [{ Length: > 0 } a, { Length: > 0 } b])
        {
            return $"{a} {b}";
        }
        if (merge.ValueKind == JsonValueKind.Array)
        {
            // Enumerated, not indexed: JsonElement's indexer scans from the start of the document's array storage.
            using JsonElement.ArrayEnumerator parts = merge.EnumerateArray();
            if (parts.MoveNext() && parts.Current.ValueKind == JsonValueKind.String && parts.Current.GetString() is string left
                && parts.MoveNext() && parts.Current.ValueKind == JsonValueKind.String && parts.Current.GetString() is string right
                && !parts.MoveNext())
            {
                return $"{left} {right}";
            }
        }
        throw Malformed(path, $"model.merges[{index}] is {merge}; a merge is \"left right\" or [\"left\", \"right\"]");
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, string path)
    {
        var tokens = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out JsonElement added) || added.ValueKind == JsonValueKind.Null) return tokens;
        if (added.ValueKind != JsonValueKind.Array) throw Malformed(path, "added_tokens is not an array");

        foreach (JsonElement token in added.EnumerateArray())
        {
            string where = $"added_tokens[{tokens.Count}]";
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int idValue) || idValue < 0
                || !token.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String || content.GetString()!.Length == 0)
            {
                throw Malformed(path, $"{where} is {token}; an added token needs a non-negative \"id\" and a non-empty \"content\"");
            }
            // Qwen marks every added token with these false; honouring them would change where tokens match.
            foreach (string flag in (string[])["lstrip", "rstrip", "single_word", "normalized"])
            {
                if (IsTrue(token, flag))
                {
                    throw Unsupported(path, $"{where} (\"{content.GetString()}\") has {flag}: true; Qwen2 tokenizers set it false");
                }
            }
            tokens.Add(new AddedToken(idValue, content.GetString()!, IsSpecial: IsTrue(token, "special")));
        }
        return tokens;
    }

    private static bool ReadNormalizer(JsonElement root, string path)
    {
        if (!root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind == JsonValueKind.Null) return false;
        if (normalizer.ValueKind == JsonValueKind.Object && normalizer.TryGetProperty("type", out JsonElement type) && type.GetString() == "NFC") return true;
        throw Unsupported(path, $"normalizer is {normalizer}; Qwen2 tokenizers use {{\"type\": \"NFC\"}} or none");
    }

    // Qwen2's pre-tokenizer: its split regex, isolating each match, then the byte-level mapping with no regex or
    // prefix space of its own. Qwen2PreTokenizer implements exactly this.
    private static void RequireQwen2PreTokenizer(JsonElement root, string path)
    {
        string found = root.TryGetProperty("pre_tokenizer", out JsonElement pre) ? pre.ToString() : "missing";
        if (pre.ValueKind == JsonValueKind.Object
            && pre.TryGetProperty("pretokenizers", out JsonElement steps) && steps.ValueKind == JsonValueKind.Array && steps.GetArrayLength() == 2
            && Is(steps[0], "type", "Split") && Is(steps[0], "behavior", "Isolated") && !IsTrue(steps[0], "invert")
            && steps[0].TryGetProperty("pattern", out JsonElement pattern) && Is(pattern, "Regex", Qwen2PreTokenizer.Pattern)
            && Is(steps[1], "type", "ByteLevel") && !IsTrue(steps[1], "use_regex") && !IsTrue(steps[1], "add_prefix_space"))
        {
            return;
        }
        throw Unsupported(path, $"pre_tokenizer is {Abbreviate(found)}; expected Qwen2's Sequence of Split (Isolated, regex {Qwen2PreTokenizer.Pattern}) " +
            "then ByteLevel (no regex, no prefix space)");

        static bool Is(JsonElement e, string name, string value) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String && v.GetString() == value;
    }

    private static bool IsTrue(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.True;

    // A token in tokenizer_config.json is its content, or an object whose "content" is (transformers' AddedToken form).
    private static string? ReadTokenName(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String)
        {
            return content.GetString();
        }
        throw Malformed(path, $"{name} is {value}; give the token's text, e.g. \"<|im_end|>\"");
    }

    private static JsonDocument Parse(string path)
    {
        if (!File.Exists(path))
        {
            throw new TokenizerLoadException(path, $"not found. A checkpoint folder needs {TokenizerJson} and {TokenizerConfigJson}; " +
                "copy them from the model's Hugging Face repository.");
        }
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException(path, $"is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): " +
                "download the file again from the model's repository.", e);
        }
    }

    private static JsonElement RequireObject(JsonElement element, string path, string what) =>
        element.ValueKind == JsonValueKind.Object ? element : throw Malformed(path, $"{what} is a JSON {element.ValueKind}, not an object");

    private static JsonElement RequireProperty(JsonElement parent, string name, JsonValueKind kind, string path)
    {
        if (parent.TryGetProperty(name, out JsonElement value) && value.ValueKind == kind) return value;
        throw Malformed(path, $"needs \"{name}\" as a JSON {kind}");
    }

    private static void RejectTrue(JsonElement model, string name, string path)
    {
        if (IsTrue(model, name))
        {
            throw Unsupported(path, $"model.{name} is true; Qwen2 tokenizers set it false");
        }
    }

    private static void RejectNonEmpty(JsonElement model, string name, string path)
    {
        if (model.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
        {
            throw Unsupported(path, $"model.{name} is \"{value.GetString()}\"; Qwen2 tokenizers leave it empty");
        }
    }

    private static string Abbreviate(string json) => json.Length <= 300 ? json : json[..300] + "...";

    private static TokenizerLoadException Malformed(string path, string problem) =>
        new(path, $"{problem}. Download the file again from the model's repository.");

    private static TokenizerLoadException Unsupported(string path, string problem) =>
        new(path, $"{problem}. This engine implements the Qwen2-family tokenizer only; use a Qwen2, Qwen2.5 or Qwen3 tokenizer.json.");
}
