using System.Text;
using System.Text.Json;
using Specialized.Tests.Support;
using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>A corpus string: what it exercises, and the text.</summary>
public sealed record CorpusString(string Category, string Text);

/// <summary>What Hugging Face tokenizers made of one corpus string (tools/reference/tokenizer_golden.py).</summary>
public sealed record GoldenIdCase(string Text, int[] Ids, int[] IdsSpecialAsText, string Decoded, string DecodedSkipSpecial);

/// <summary>A conversation and what transformers' apply_chat_template rendered with Qwen2.5's template.</summary>
public sealed record GoldenChatCase(string Name, ChatMessage[] Messages, bool AddGenerationPrompt, string Text);

/// <summary>
/// The vendored Qwen tokenizer, the corpus and the golden files, loaded once for all text tests. A missing golden
/// file fails the tests that need it, with how to make it; it never skips them.
/// </summary>
internal static class TextTestData
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly Lazy<Qwen2Tokenizer> LazyTokenizer = new(() => Qwen2Tokenizer.Load(TokenizerFolder));
    private static readonly Lazy<IReadOnlyList<CorpusString>> LazyCorpus = new(() => Read<CorpusFile>("corpus.json").Strings);
    private static readonly Lazy<GoldenFile<GoldenIdCase>> LazyGoldenIds = new(() => Read<GoldenFile<GoldenIdCase>>(GoldenIdsFile));
    private static readonly Lazy<GoldenFile<GoldenChatCase>> LazyGoldenChat = new(() => Read<GoldenFile<GoldenChatCase>>(GoldenChatFile));

    public const string GoldenIdsFile = "golden_ids.json";
    public const string GoldenChatFile = "golden_chat.json";

    public static string TokenizerFolder => Path.Combine(RepoPaths.Models, "qwen-tokenizer");

    public static string DataFolder => Path.Combine(RepoPaths.TestSource, "Text", "Data");

    public static Qwen2Tokenizer Tokenizer => LazyTokenizer.Value;

    public static IReadOnlyList<CorpusString> Corpus => LazyCorpus.Value;

    public static GoldenFile<GoldenIdCase> GoldenIds => LazyGoldenIds.Value;

    public static GoldenFile<GoldenChatCase> GoldenChat => LazyGoldenChat.Value;

    public static bool Exists(string file) => File.Exists(Path.Combine(DataFolder, file));

    /// <summary>Corpus indexes with a readable label, so each string is its own test case.</summary>
    public static TheoryData<int, string> CorpusCases()
    {
        var data = new TheoryData<int, string>();
        for (int i = 0; i < Corpus.Count; i++) data.Add(i, $"{Corpus[i].Category}: {Preview(Corpus[i].Text)}");
        return data;
    }

    /// <summary>The text with invisible characters escaped, cut to a length a test name can carry.</summary>
    public static string Preview(string text, int max = 40)
    {
        var sb = new StringBuilder();
        foreach (Rune r in text.EnumerateRunes())
        {
            if (sb.Length >= max) return sb.Append($"... ({text.Length} chars)").ToString();
            bool visible = !Rune.IsControl(r) && !Rune.IsWhiteSpace(r) || r.Value == ' ';
            sb.Append(visible && System.Globalization.CharUnicodeInfo.GetUnicodeCategory(r.Value) is not
                (System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.Format)
                ? r.ToString() : $"\\u{r.Value:X4}");
        }
        return sb.ToString();
    }

    private static T Read<T>(string file)
    {
        string path = Path.Combine(DataFolder, file);
        if (!File.Exists(path))
        {
            throw new Xunit.Sdk.XunitException($"{path} is missing. Make it with Hugging Face tokenizers and transformers: " +
                "run `python3 tools/reference/tokenizer_golden.py` from the repository root and commit what it writes.");
        }
        return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) ?? throw new Xunit.Sdk.XunitException($"{path} is null");
    }

    private sealed record CorpusFile(CorpusString[] Strings);
}

/// <summary>A golden file: who wrote it, the hash of the input it was written from, and its cases.</summary>
public sealed record GoldenFile<T>(string Generator, string? TokenizerJsonSha256, string? ChatTemplateSha256, T[] Cases);
