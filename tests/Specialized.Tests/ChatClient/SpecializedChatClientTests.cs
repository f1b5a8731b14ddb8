using Microsoft.Extensions.AI;
using EngineChatMessage = Specialized.Text.ChatMessage;

namespace Specialized.Tests.ChatClient;

/// <summary>The engine behind Microsoft.Extensions.AI's IChatClient: the same tokens as the engine, streamed or not.</summary>
public sealed class SpecializedChatClientTests : IClassFixture<TinyChatEngine>
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Name a colour."),
        new(ChatRole.Assistant, "Blue."),
        new(ChatRole.User, "Another one?"),
    ];

    private static readonly EngineChatMessage[] SameConversation =
    [
        EngineChatMessage.System("You are terse."),
        EngineChatMessage.User("Name a colour."),
        EngineChatMessage.Assistant("Blue."),
        EngineChatMessage.User("Another one?"),
    ];

    private readonly string _folder;
    private readonly Specialized.Engine _engine;
    private readonly IChatClient _client;

    public SpecializedChatClientTests(TinyChatEngine fixture)
    {
        _folder = fixture.Folder;
        _engine = fixture.Engine;
        _client = _engine.AsChatClient();
    }

    private static ChatOptions Greedy(int n = 12) => new() { Temperature = 0, MaxOutputTokens = n };

    [Fact]
    public async Task A_greedy_response_is_the_engine_output_of_the_chat_template()
    {
        GenerateOutput expected = _engine.Generate(_engine.ApplyChatTemplate(SameConversation), new SamplingParams { Temperature = 0, MaxNewTokens = 12 });

        ChatResponse response = await _client.GetResponseAsync(Conversation, Greedy());

        ChatMessage reply = Assert.Single(response.Messages);
        Assert.Equal(ChatRole.Assistant, reply.Role);
        Assert.Equal(expected.Text, response.Text);
        Assert.Equal(expected.OutputIds, Assert.IsType<GenerateOutput>(response.RawRepresentation).OutputIds);
        Assert.Equal(expected.MetaInfo.FinishReason!.Type == FinishType.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(expected.MetaInfo.PromptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(expected.OutputIds.Count, response.Usage.OutputTokenCount);
        Assert.Equal(expected.MetaInfo.PromptTokens + expected.OutputIds.Count, response.Usage.TotalTokenCount);
        Assert.Equal(Path.GetFileName(_folder), response.ModelId);
        Assert.False(string.IsNullOrEmpty(response.ResponseId));
    }

    [Fact]
    public async Task Streamed_updates_concatenate_to_the_response_and_end_with_finish_and_usage()
    {
        ChatResponse whole = await _client.GetResponseAsync(Conversation, Greedy(16));

        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in _client.GetStreamingResponseAsync(Conversation, Greedy(16))) updates.Add(u);

        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(whole.FinishReason, updates[^1].FinishReason);
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        UsageContent usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Same(usage, updates[^1].Contents.OfType<UsageContent>().Single());
        Assert.Equal(whole.Usage!.InputTokenCount, usage.Details.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.Details.OutputTokenCount);

        // The abstractions' own assembly of updates gives the same reply.
        ChatResponse gathered = updates.ToChatResponse();
        Assert.Equal(whole.Text, gathered.Text);
        Assert.Equal(whole.Usage.OutputTokenCount, gathered.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Options_reach_the_sampler()
    {
        // A hot, seeded, top-k request through the client draws what the engine draws with the same SamplingParams.
        var options = new ChatOptions { Temperature = 2.0f, TopK = 50, TopP = 0.9f, Seed = 1234, MaxOutputTokens = 10, FrequencyPenalty = 0.5f, PresencePenalty = -0.5f };
        var parameters = new SamplingParams { Temperature = 2.0f, TopK = 50, TopP = 0.9f, Seed = 1234, MaxNewTokens = 10, FrequencyPenalty = 0.5f, PresencePenalty = -0.5f };
        GenerateOutput expected = _engine.Generate(_engine.ApplyChatTemplate(SameConversation), parameters);
        GenerateOutput other = _engine.Generate(_engine.ApplyChatTemplate(SameConversation), parameters with { Seed = 4321 });
        Assert.NotEqual(expected.OutputIds, other.OutputIds);

        ChatResponse response = await _client.GetResponseAsync(Conversation, options);

        Assert.Equal(expected.OutputIds, ((GenerateOutput)response.RawRepresentation!).OutputIds);
    }

    [Fact]
    public void Chat_options_map_field_by_field_onto_sampling_params()
    {
        var options = new ChatOptions
        {
            Temperature = 0.7f, TopP = 0.8f, TopK = 20, MaxOutputTokens = 33, StopSequences = ["\n\n", "END"],
            FrequencyPenalty = 0.25f, PresencePenalty = 0.5f, Seed = 42,
            RawRepresentationFactory = _ => new SamplingParams { MinP = 0.05f, RepetitionPenalty = 1.1f, Temperature = 0.1f },
        };

        SamplingParams p = ChatClientMapping.ToSamplingParams(options, _client);

        Assert.Equal(new SamplingParams
        {
            Temperature = 0.7f, TopP = 0.8f, TopK = 20, MaxNewTokens = 33, Stop = p.Stop, FrequencyPenalty = 0.25f,
            PresencePenalty = 0.5f, Seed = 42, MinP = 0.05f, RepetitionPenalty = 1.1f,
        }, p);
        Assert.Equal(["\n\n", "END"], p.Stop!);
        Assert.Equal(new SamplingParams(), ChatClientMapping.ToSamplingParams(null, _client));
        Assert.Equal(new SamplingParams(), ChatClientMapping.ToSamplingParams(new ChatOptions(), _client));
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_reply_before_it()
    {
        ChatResponse free = await _client.GetResponseAsync(Conversation, Greedy(16));
        string stop = free.Text.Trim() is { Length: >= 4 } text ? text.Substring(2, 2) : throw new Xunit.Sdk.XunitException($"reply too short: \"{free.Text}\"");

        ChatResponse stopped = await _client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 16, StopSequences = [stop] });

        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public async Task Instructions_become_the_leading_system_message()
    {
        GenerateOutput expected = _engine.Generate(
            _engine.ApplyChatTemplate([EngineChatMessage.System("Answer in French."), EngineChatMessage.User("Hi")]), new SamplingParams { Temperature = 0, MaxNewTokens = 8 });

        ChatResponse response = await _client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { Temperature = 0, MaxOutputTokens = 8, Instructions = "Answer in French." });

        Assert.Equal(expected.OutputIds, ((GenerateOutput)response.RawRepresentation!).OutputIds);
    }

    [Fact]
    public async Task Unsupported_input_is_a_clear_error_and_the_client_keeps_serving()
    {
        ChatResponse before = await _client.GetResponseAsync(Conversation, Greedy(6));

        var tool = await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync([new ChatMessage(ChatRole.Tool, "42")], Greedy()));
        Assert.Contains("role \"tool\"", tool.Message);
        var image = new ChatMessage(ChatRole.User, [new TextContent("What is this?"), new DataContent(new byte[] { 1, 2, 3 }, "image/png")]);
        var content = await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync([image], Greedy()));
        Assert.Contains("DataContent", content.Message);
        await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync(Conversation, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 1, "one")] }));
        await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync(Conversation, new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        var range = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.GetResponseAsync(Conversation, new ChatOptions { TopP = 1.5f }));
        Assert.Contains("top_p", range.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync([], Greedy()));
        // Longer than the 128-token context: the engine aborts it, the client says why.
        var tooLong = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _client.GetResponseAsync([new ChatMessage(ChatRole.User, string.Join(' ', Enumerable.Repeat("word", 200)))], Greedy()));
        Assert.Contains("context length", tooLong.Message);

        ChatResponse after = await _client.GetResponseAsync(Conversation, Greedy(6));
        Assert.Equal(before.Text, after.Text);
    }

    [Fact]
    public async Task Cancellation_stops_a_response_and_a_stream()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.GetResponseAsync(Conversation, Greedy(), cancelled.Token));

        using var midway = new CancellationTokenSource();
        int updates = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in _client.GetStreamingResponseAsync(Conversation, Greedy(100), midway.Token))
            {
                if (++updates == 3) await midway.CancelAsync();
            }
        });
        Assert.Equal(3, updates);

        ChatResponse after = await _client.GetResponseAsync(Conversation, Greedy(4));
        Assert.NotNull(after.FinishReason);
    }

    [Fact]
    public void Services_are_the_metadata_the_engine_and_the_client()
    {
        var metadata = _client.GetService<ChatClientMetadata>();
        Assert.Equal("specialized", metadata!.ProviderName);
        Assert.Equal(Path.GetFileName(_folder), metadata.DefaultModelId);
        Assert.Same(_engine, _client.GetService<Specialized.Engine>());
        Assert.Same(_client, _client.GetService<IChatClient>());
        Assert.Null(_client.GetService<ChatClientMetadata>("some key"));
        Assert.Null(_client.GetService<string>());
        Assert.Equal("my-model", _engine.AsChatClient("my-model").GetService<ChatClientMetadata>()!.DefaultModelId);
    }
}
