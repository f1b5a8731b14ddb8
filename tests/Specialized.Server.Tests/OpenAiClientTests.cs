using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;
using EngineMessage = Specialized.Text.ChatMessage;

namespace Specialized.Server.Tests;

/// <summary>
/// The official OpenAI .NET client against the running server: what it sends must parse, what the server answers
/// must deserialize, and a greedy answer must be the engine's own greedy answer for the same conversation.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class OpenAiClientTests(ServerFixture server)
{
    private static readonly EngineMessage[] Conversation =
    [
        EngineMessage.System("You are a terse assistant."),
        EngineMessage.User("Name three rivers in Europe."),
    ];

    private static readonly ChatMessage[] ClientConversation =
    [
        new SystemChatMessage("You are a terse assistant."),
        new UserChatMessage("Name three rivers in Europe."),
    ];

    private ChatClient Client() =>
        new(ServerFixture.ModelName, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });

    private GenerateOutput EngineGreedy(int maxTokens) =>
        server.Engine.Generate(Conversation, new SamplingParams { Temperature = 0, MaxNewTokens = maxTokens });

    private static ChatFinishReason Expected(GenerateOutput output) =>
        output.MetaInfo.FinishReason!.Type == FinishType.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;

    [Fact]
    public async Task A_greedy_chat_completion_is_the_engines_greedy_output()
    {
        GenerateOutput expected = EngineGreedy(24);

        ChatCompletion completion = await Client().CompleteChatAsync(ClientConversation,
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 });

        Assert.Equal(expected.Text, Assert.Single(completion.Content).Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(Expected(expected), completion.FinishReason);
        Assert.Equal(ServerFixture.ModelName, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal(expected.MetaInfo.PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(expected.MetaInfo.CompletionTokens, completion.Usage.OutputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task A_streamed_greedy_chat_completion_adds_up_to_the_engines_greedy_output()
    {
        GenerateOutput expected = EngineGreedy(24);

        var text = new StringBuilder();
        var finishReasons = new List<ChatFinishReason>();
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate update in Client().CompleteChatStreamingAsync(ClientConversation,
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 }))
        {
            updates++;
            foreach (ChatMessageContentPart part in update.ContentUpdate) text.Append(part.Text);
            if (update.FinishReason is { } finish) finishReasons.Add(finish);
            usage ??= update.Usage;
        }

        Assert.Equal(expected.Text, text.ToString());
        Assert.Equal(Expected(expected), Assert.Single(finishReasons));
        Assert.True(updates > 2, $"expected the text in several chunks, got {updates} updates");
        // The client asks for stream_options.include_usage; the counts must be the engine's.
        Assert.NotNull(usage);
        Assert.Equal(expected.MetaInfo.PromptTokens, usage.InputTokenCount);
        Assert.Equal(expected.MetaInfo.CompletionTokens, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Chat_logprobs_are_the_engines_logprobs()
    {
        GenerateOutput expected = server.Engine.Generate(Conversation,
            new SamplingParams { Temperature = 0, MaxNewTokens = 6, ReturnLogprob = true, TopLogprobsNum = 3 });

        ChatCompletion completion = await Client().CompleteChatAsync(ClientConversation,
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });

        Assert.Equal(expected.OutputTokenLogprobs!.Select(t => t.Logprob), completion.ContentTokenLogProbabilities.Select(t => t.LogProbability));
        Assert.All(completion.ContentTokenLogProbabilities, t => Assert.Equal(3, t.TopLogProbabilities.Count));
        // Greedy: the chosen token is the most likely one.
        Assert.All(completion.ContentTokenLogProbabilities, t => Assert.Equal(t.TopLogProbabilities[0].LogProbability, t.LogProbability));
    }

    [Fact]
    public async Task An_out_of_range_parameter_reaches_the_client_as_a_400()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() => Client().CompleteChatAsync(ClientConversation,
            new ChatCompletionOptions { TopP = 1.5f, MaxOutputTokenCount = 4 }));

        Assert.Equal(400, error.Status);
        Assert.Contains("top_p", error.Message);
    }
}
