using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>One server-sent event of a streamed <c>/v1/chat/completions</c>.</summary>
internal sealed class ChatCompletionChunk
{
    public required string Id { get; init; }
    public string Object => "chat.completion.chunk";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<ChatChunkChoice> Choices { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }
}

internal sealed class ChatChunkChoice
{
    public required int Index { get; init; }
    public required ChatDelta Delta { get; init; }
    public ChatLogprobs? Logprobs { get; init; }
    public string? FinishReason { get; init; }
}

/// <summary>What a chunk adds to the assistant's message: the role once, first, then pieces of content.</summary>
internal sealed class ChatDelta
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Role { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }
}
