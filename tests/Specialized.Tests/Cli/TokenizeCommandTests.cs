using System.Text.Json;
using Specialized.Tests.Text;
using static Specialized.Tests.Cli.InProcessCli;

namespace Specialized.Tests.Cli;

/// <summary><c>specialized tokenize</c> on the vendored tokenizer gives Hugging Face's ids and text from the golden corpus.</summary>
public sealed class TokenizeCommandTests
{
    public static TheoryData<string> Texts() =>
    [
        "Hello, world!",
        "我爱自然语言处理。今天天气很好，我们去公园散步吧。",
        "👨\u200d👩\u200d👧\u200d👦 family",
        "😀<|im_end|>😀",
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    ];

    private static GoldenIdCase Golden(string text) => Assert.Single(TextTestData.GoldenIds.Cases, c => c.Text == text);

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_prints_Hugging_Faces_ids_as_one_JSON_array(string text)
    {
        Result r = Run("", "tokenize", "--model", TextTestData.TokenizerFolder, "--text", text);
        Assert.True(r.Code == 0, r.Error);

        using JsonDocument json = JsonDocument.Parse(r.Out);
        Assert.Equal(Golden(text).Ids, json.RootElement.EnumerateArray().Select(e => e.GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Decode_prints_Hugging_Faces_text_with_or_without_the_special_tokens(string text)
    {
        GoldenIdCase golden = Golden(text);
        string ids = string.Join(",", golden.Ids);

        Result all = Run("", "tokenize", "--model", TextTestData.TokenizerFolder, "--decode", ids);
        Assert.True(all.Code == 0, all.Error);
        Assert.Equal(golden.Decoded + Environment.NewLine, all.Out);

        Result skipped = Run("", "tokenize", "--model", TextTestData.TokenizerFolder, "--decode", ids, "--skip-special-tokens");
        Assert.True(skipped.Code == 0, skipped.Error);
        Assert.Equal(golden.DecodedSkipSpecial + Environment.NewLine, skipped.Out);
    }
}
