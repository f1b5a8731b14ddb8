using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>Cases where a UTF-16 regex and Oniguruma's code-point regex would split differently.</summary>
public sealed class Qwen2PreTokenizerTests
{
    [Theory]
    [InlineData("a𠀀b 𝟎𝟏", new[] { "a𠀀b", " ", "𝟎", "𝟏" })]
    [InlineData("𝐇𝐞𝐥𝐥𝐨 world", new[] { "𝐇𝐞𝐥𝐥𝐨", " world" })]
    [InlineData("it's IT'S it'ſ", new[] { "it", "'s", " IT", "'S", " it", "'ſ" })]
    [InlineData("x  \n\n  y   ", new[] { "x", "  \n\n", " ", " y", "   " })]
    [InlineData("a\u3000b\u00a0\u00a0c", new[] { "a", "\u3000b", "\u00a0", "\u00a0c" })]
    [InlineData("12 ab!!\r\n", new[] { "1", "2", " ab", "!!\r\n" })]
    public void Splits_like_Hugging_Face(string text, string[] pieces)
    {
        Assert.Equal(pieces, Qwen2PreTokenizer.Split(text).Select(p => text.Substring(p.Offset, p.Length)));
    }
}
