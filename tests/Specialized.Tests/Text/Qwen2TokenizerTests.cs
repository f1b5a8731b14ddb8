using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>The tokenizer gives Hugging Face's ids and text for every corpus string.</summary>
public sealed class Qwen2TokenizerTests
{
    private static Qwen2Tokenizer Tokenizer => TextTestData.Tokenizer;

    public static TheoryData<int, string> Corpus() => TextTestData.CorpusCases();

    [Fact]
    public void The_corpus_covers_every_category_with_at_least_220_strings()
    {
        Assert.True(TextTestData.Corpus.Count >= 220, $"{TextTestData.Corpus.Count} strings");
        string[] categories = ["english", "code", "numbers", "whitespace", "newlines", "cjk", "arabic_hebrew", "cyrillic_greek",
            "emoji", "combining", "special_tokens", "long_words", "long_text"];
        Assert.All(categories, c => Assert.Contains(TextTestData.Corpus, s => s.Category == c));
        Assert.Contains(TextTestData.Corpus, s => s.Text.Length >= 10_000);
    }

    [Fact]
    public void The_golden_ids_were_made_from_this_corpus_and_tokenizer()
    {
        GoldenFile<GoldenIdCase> golden = TextTestData.GoldenIds;
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json"))));
        Assert.Equal(sha, golden.TokenizerJsonSha256);
        Assert.Equal(TextTestData.Corpus.Select(s => s.Text), golden.Cases.Select(c => c.Text));
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Encodes_to_the_ids_Hugging_Face_gives(int index, string label)
    {
        GoldenIdCase golden = Golden(index, label);
        AssertIds(golden.Ids, Tokenizer.Encode(golden.Text), label);
        AssertIds(golden.IdsSpecialAsText, Tokenizer.Encode(golden.Text, parseSpecialTokens: false), label + " (special tokens as text)");
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Decodes_to_the_text_Hugging_Face_gives(int index, string label)
    {
        GoldenIdCase golden = Golden(index, label);
        Assert.Equal(golden.Decoded, Tokenizer.Decode(golden.Ids));
        Assert.Equal(golden.DecodedSkipSpecial, Tokenizer.Decode(golden.Ids, skipSpecialTokens: true));
    }

    // Text in NFC comes back exactly. Other text comes back NFC-normalized between the added tokens, which are split
    // out before normalizing (as HF does), so it is compared up to NFC.
    [Theory]
    [MemberData(nameof(Corpus))]
    public void Decoding_the_encoding_gives_the_text_back(int index, string label)
    {
        string text = TextTestData.Corpus[index].Text;
        foreach (bool parseSpecialTokens in (bool[])[true, false])
        {
            string decoded = Tokenizer.Decode(Tokenizer.Encode(text, parseSpecialTokens));
            if (text.IsNormalized(NormalizationForm.FormC)) Assert.True(text == decoded, label);
            else Assert.True(text.Normalize(NormalizationForm.FormC) == decoded.Normalize(NormalizationForm.FormC), label);
        }
    }

    [Fact]
    public void Reads_the_special_tokens_of_the_config()
    {
        Assert.Equal(151645, Tokenizer.EosTokenId);   // <|im_end|>
        Assert.Equal(151643, Tokenizer.PadTokenId);   // <|endoftext|>
        Assert.Equal(151669, Tokenizer.VocabSize);    // 151,643 BPE tokens and 26 added ones
        Assert.True(Tokenizer.IsSpecial(151644));     // <|im_start|>
        Assert.False(Tokenizer.IsSpecial(151667));    // <think> is added but not special
        Assert.False(Tokenizer.IsSpecial(9707));
        Assert.False(Tokenizer.IsSpecial(200_000));
        Assert.Contains("<think>", Tokenizer.ChatTemplateSource);
    }

    // The vendored tokenizer.json is Qwen3's, standing in for Qwen2.5's (models/qwen-tokenizer/README.md): that holds
    // only while every added token of Qwen2.5-Instruct keeps its id, and Qwen3's extras are the four known ones.
    [Fact]
    public void The_added_tokens_are_Qwen2_5_Instructs_with_Qwen3s_four_after_them()
    {
        (string Content, int Id)[] qwen25 =
        [
            ("<|endoftext|>", 151643), ("<|im_start|>", 151644), ("<|im_end|>", 151645), ("<|object_ref_start|>", 151646),
            ("<|object_ref_end|>", 151647), ("<|box_start|>", 151648), ("<|box_end|>", 151649), ("<|quad_start|>", 151650),
            ("<|quad_end|>", 151651), ("<|vision_start|>", 151652), ("<|vision_end|>", 151653), ("<|vision_pad|>", 151654),
            ("<|image_pad|>", 151655), ("<|video_pad|>", 151656), ("<tool_call>", 151657), ("</tool_call>", 151658),
            ("<|fim_prefix|>", 151659), ("<|fim_middle|>", 151660), ("<|fim_suffix|>", 151661), ("<|fim_pad|>", 151662),
            ("<|repo_name|>", 151663), ("<|file_sep|>", 151664),
        ];
        (string Content, int Id)[] qwen3Only = [("<tool_response>", 151665), ("</tool_response>", 151666), ("<think>", 151667), ("</think>", 151668)];

        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TextTestData.TokenizerFolder, "tokenizer.json")));
        (string, int)[] added = [.. json.RootElement.GetProperty("added_tokens").EnumerateArray()
            .Select(t => (t.GetProperty("content").GetString()!, t.GetProperty("id").GetInt32()))];
        Assert.Equal(qwen25.Concat(qwen3Only), added);
        Assert.All(qwen25, t => Assert.Equal([t.Id], Tokenizer.Encode(t.Content)));
    }

    [Fact]
    public void Encodes_alike_from_several_threads()
    {
        string[] texts = [.. TextTestData.Corpus.Select(s => s.Text)];
        int[][] sequential = [.. texts.Select(t => Tokenizer.Encode(t))];
        var parallel = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, i => parallel[i % texts.Length] = Tokenizer.Encode(texts[i % texts.Length]));
        Assert.Equal(sequential, parallel);
    }

    [Fact]
    public void Composed_and_decomposed_accents_encode_alike()
    {
        Assert.Equal(Tokenizer.Encode("caf\u00e9"), Tokenizer.Encode("cafe\u0301"));
    }

    [Fact]
    public void Ids_without_a_token_decode_to_nothing()
    {
        Assert.Equal("Hello", Tokenizer.Decode([9707, 151_700, 151_935, -1]));
    }

    [Fact]
    public void An_unpaired_surrogate_is_refused_with_its_index()
    {
        var e = Assert.Throws<ArgumentException>(() => Tokenizer.Encode("ab\uD800c"));
        Assert.Contains("index 2", e.Message);
    }

    private static GoldenIdCase Golden(int index, string label)
    {
        GoldenIdCase golden = TextTestData.GoldenIds.Cases.ElementAtOrDefault(index)
            ?? throw new Xunit.Sdk.XunitException($"{TextTestData.GoldenIdsFile} has no case {index} ({label}): regenerate it with tools/reference/tokenizer_golden.py");
        if (golden.Text != TextTestData.Corpus[index].Text)
        {
            throw new Xunit.Sdk.XunitException($"{TextTestData.GoldenIdsFile} case {index} is not corpus string {index} ({label}): regenerate it with tools/reference/tokenizer_golden.py");
        }
        return golden;
    }

    private static void AssertIds(int[] expected, int[] actual, string label)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return;
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at]) at++;
        string Around(int[] ids) => string.Join(", ", ids.Skip(Math.Max(0, at - 3)).Take(8));
        throw new Xunit.Sdk.XunitException($"{label}: ids differ first at position {at} of {expected.Length} expected / {actual.Length} actual.\n" +
            $"  expected ... {Around(expected)} ...\n  actual   ... {Around(actual)} ...\n" +
            $"  expected text there: \"{TextTestData.Preview(Tokenizer.Decode(expected.Skip(at).Take(5)))}\", actual: \"{TextTestData.Preview(Tokenizer.Decode(actual.Skip(at).Take(5)))}\"");
    }
}
