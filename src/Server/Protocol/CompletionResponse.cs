using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>
/// A <c>/v1/completions</c> response, and also each chunk of its stream (OpenAI uses one shape for both; a chunk's
/// choices carry the text delta and leave <c>usage</c> out).
/// </summary>
internal sealed class CompletionResponse
{
    public required string Id { get; init; }
    public string Object => "text_completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<CompletionChoice> Choices { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Usage? Usage { get; init; }
}

internal sealed class CompletionChoice
{
    public required int Index { get; init; }
    public required string Text { get; init; }
    public CompletionLogprobs? Logprobs { get; init; }
    public string? FinishReason { get; init; }
}

/// <summary>The legacy completions logprobs layout: parallel lists, one entry per output token.</summary>
internal sealed class CompletionLogprobs
{
    public required List<string> Tokens { get; init; }
    public required List<float> TokenLogprobs { get; init; }
    public List<Dictionary<string, float>>? TopLogprobs { get; init; }
    public required List<int> TextOffset { get; init; }
}
