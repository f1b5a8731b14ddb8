using Specialized.Text;

namespace Specialized.Tests.Text;

/// <summary>ChatTemplate renders byte for byte what transformers renders with Qwen2.5's template.</summary>
public sealed class ChatTemplateTests
{
    // Named after the golden cases when the file is there; otherwise one case, which fails saying how to make it.
    public static TheoryData<string> GoldenCases()
    {
        var data = new TheoryData<string>();
        if (!TextTestData.Exists(TextTestData.GoldenChatFile)) data.Add($"({TextTestData.GoldenChatFile} missing)");
        else foreach (GoldenChatCase c in TextTestData.GoldenChat.Cases) data.Add(c.Name);
        return data;
    }

    [Fact]
    public void The_golden_chats_were_made_with_the_vendored_template()
    {
        string template = Path.Combine(TextTestData.TokenizerFolder, "qwen2.5_chat_template.jinja");
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(template)));
        Assert.Equal(sha, TextTestData.GoldenChat.ChatTemplateSha256);
        Assert.True(TextTestData.GoldenChat.Cases.Length >= 20);
    }

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Renders_what_Hugging_Face_renders(string name)
    {
        GoldenChatCase golden = TextTestData.GoldenChat.Cases.Single(c => c.Name == name);
        Assert.Equal(golden.Text, ChatTemplate.Render(golden.Messages, golden.AddGenerationPrompt));
    }

    [Fact]
    public void Adds_the_default_system_prompt_and_the_generation_prompt()
    {
        Assert.Equal(
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" +
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplate.Render([ChatMessage.User("Hi")], addGenerationPrompt: true));
    }

    [Fact]
    public void Refuses_an_empty_conversation_and_unknown_roles()
    {
        Assert.Throws<ArgumentException>(() => ChatTemplate.Render([], addGenerationPrompt: true));
        var e = Assert.Throws<ArgumentException>(() => ChatTemplate.Render([new ChatMessage("function", "x")], addGenerationPrompt: true));
        Assert.Contains("\"function\"", e.Message);
    }

    [Fact]
    public void The_rendered_prompt_encodes_its_markers_as_special_tokens()
    {
        int[] ids = TextTestData.Tokenizer.Encode(ChatTemplate.Render([ChatMessage.System("S"), ChatMessage.User("U")], addGenerationPrompt: true));
        Assert.Equal(151644, ids[0]);                                   // <|im_start|>
        Assert.Equal(3, ids.Count(id => id == 151644));
        Assert.Equal(2, ids.Count(id => id == TextTestData.Tokenizer.EosTokenId));
    }
}
