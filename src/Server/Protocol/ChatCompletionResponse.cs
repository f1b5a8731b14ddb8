namespace Specialized.Server.Protocol;

/// <summary>A non-streamed <c>/v1/chat/completions</c> response.</summary>
internal sealed class ChatCompletionResponse
{
    public required string Id { get; init; }
    public string Object => "chat.completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<ChatChoice> Choices { get; init; }
    public required Usage Usage { get; init; }
}

internal sealed class ChatChoice
{
    public required int Index { get; init; }
    public required AssistantMessage Message { get; init; }
    public ChatLogprobs? Logprobs { get; init; }
    public required string FinishReason { get; init; }
}

internal sealed class AssistantMessage
{
    public string Role => "assistant";
    public required string Content { get; init; }
}

/// <summary>The chat logprobs layout: one entry per output token, each with its alternatives.</summary>
internal sealed class ChatLogprobs
{
    public required List<ChatTokenLogprob> Content { get; init; }
}

internal sealed class ChatTokenLogprob
{
    public required string Token { get; init; }
    public required float Logprob { get; init; }
    public required int[] Bytes { get; init; }
    public required List<ChatTopLogprob> TopLogprobs { get; init; }
}

internal sealed class ChatTopLogprob
{
    public required string Token { get; init; }
    public required float Logprob { get; init; }
    public required int[] Bytes { get; init; }
}
