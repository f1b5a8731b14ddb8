using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>
/// The fields <c>/v1/completions</c> and <c>/v1/chat/completions</c> share: OpenAI's sampling fields and SGLang's
/// extras, snake_case as on the wire. Null means "not given": the engine's (SGLang's) default applies.
/// </summary>
internal abstract class OpenAiSamplingFields : ISamplingFields
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? N { get; init; }
    public bool Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }

    [JsonConverter(typeof(StringOrListConverter))]
    public List<string>? Stop { get; init; }

    public long? Seed { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? PresencePenalty { get; init; }

    /// <summary>Token id (as a string, like OpenAI's) to bias added to its logit.</summary>
    public Dictionary<string, float>? LogitBias { get; init; }

    public string? User { get; init; }

    // SGLang's extras.
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? RepetitionPenalty { get; init; }
    public int? MinTokens { get; init; }
    int? ISamplingFields.MinNewTokens => MinTokens;
    public List<int>? StopTokenIds { get; init; }
    public bool? IgnoreEos { get; init; }
    public bool? SkipSpecialTokens { get; init; }
    public bool? SpacesBetweenSpecialTokens { get; init; }
    public bool? NoStopTrim { get; init; }
}

internal sealed class StreamOptions
{
    /// <summary>Send a last chunk with the request's token counts (and no choices) before <c>[DONE]</c>.</summary>
    public bool IncludeUsage { get; init; }
}
