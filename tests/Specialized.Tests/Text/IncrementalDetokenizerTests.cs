using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>Streaming deltas are whole characters and join to the final decode.</summary>
public sealed class IncrementalDetokenizerTests
{
    private static Qwen2Tokenizer Tokenizer => TextTestData.Tokenizer;

    public static TheoryData<int, string> Corpus() => TextTestData.CorpusCases();

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Deltas_join_to_the_final_decode_and_never_split_a_character(int index, string label)
    {
        int[] ids = Tokenizer.Encode(TextTestData.Corpus[index].Text);
        foreach (bool skip in (bool[])[false, true])
        {
            List<string> deltas = Stream(ids, skip);
            string final = Tokenizer.Decode(ids, skip);
            Assert.True(final == string.Concat(deltas), $"{label} (skip special: {skip})");
            if (!final.Contains('\uFFFD')) Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));
        }
    }

    [Theory]
    [InlineData("👨‍👩‍👧‍👦")]   // the ZWJs are split over two tokens each
    [InlineData("𪚥")]
    [InlineData("🫠")]
    [InlineData("龘")]
    public void Holds_back_a_character_split_across_tokens(string text)
    {
        int[] ids = Tokenizer.Encode(text);
        Assert.True(ids.Length > 1, $"{text} is one token; the test needs a split character");
        List<string> deltas = Stream(ids, skipSpecialTokens: false);
        Assert.Contains("", deltas.SkipLast(1));
        Assert.All(deltas, d => Assert.DoesNotContain('\uFFFD', d));
        Assert.Equal(text, string.Concat(deltas));
    }

    [Fact]
    public void Skips_special_tokens_but_keeps_the_other_added_tokens()
    {
        int[] ids = Tokenizer.Encode("<|im_start|>assistant\n<think>\nhmm\n</think>\n\nHi 😀<|im_end|>");
        Assert.Equal("assistant\n<think>\nhmm\n</think>\n\nHi 😀", string.Concat(Stream(ids, skipSpecialTokens: true)));
        Assert.Equal("<|im_start|>assistant\n<think>\nhmm\n</think>\n\nHi 😀<|im_end|>", string.Concat(Stream(ids, skipSpecialTokens: false)));
    }

    [Fact]
    public void A_skipped_special_token_between_the_bytes_of_a_character_does_not_break_it()
    {
        int[] emoji = Tokenizer.Encode("🫠");
        Assert.True(emoji.Length > 1);
        int[] ids = [.. emoji[..1], Tokenizer.EosTokenId, .. emoji[1..]];
        Assert.Equal(Tokenizer.Decode(ids, skipSpecialTokens: true), string.Concat(Stream(ids, skipSpecialTokens: true)));
        Assert.Equal("🫠", Tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Flush_gives_an_unfinished_character_as_the_final_decode_does()
    {
        int[] ids = Tokenizer.Encode("ok 🫠");
        int[] cut = ids[..^1];
        var detokenizer = new IncrementalDetokenizer(Tokenizer);
        string streamed = string.Concat(cut.Select(detokenizer.Add));
        Assert.DoesNotContain('\uFFFD', streamed);
        string flushed = detokenizer.Flush();
        Assert.Contains('\uFFFD', flushed);
        Assert.Equal(Tokenizer.Decode(cut), streamed + flushed);
        Assert.Equal("", detokenizer.Flush());
    }

    [Fact]
    public void Ids_without_a_token_add_nothing()
    {
        var detokenizer = new IncrementalDetokenizer(Tokenizer);
        Assert.Equal("", detokenizer.Add(151_900));
        Assert.Equal("Hello", detokenizer.Add(9707));
    }

    private static List<string> Stream(int[] ids, bool skipSpecialTokens)
    {
        var detokenizer = new IncrementalDetokenizer(Tokenizer, skipSpecialTokens);
        var deltas = ids.Select(detokenizer.Add).ToList();
        deltas.Add(detokenizer.Flush());
        return deltas;
    }
}
