using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>The body of <c>POST /v1/chat/completions</c>.</summary>
internal sealed class ChatCompletionRequest : OpenAiSamplingFields
{
    public List<ChatMessageDto>? Messages { get; init; }

    /// <summary>OpenAI's newer name for <see cref="OpenAiSamplingFields.MaxTokens"/>; wins when both are given.</summary>
    public int? MaxCompletionTokens { get; init; }

    public bool Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
}

internal sealed class ChatMessageDto
{
    public string? Role { get; init; }

    [JsonConverter(typeof(MessageContentConverter))]
    public string? Content { get; init; }
}
