namespace Specialized.Server.Protocol;

/// <summary>
/// The sampling fields OpenAI's requests (with SGLang's extras) and SGLang's <c>sampling_params</c> share, under one
/// set of names, so one mapping serves both; null means "not given". Each protocol's own spelling stays on its DTO.
/// </summary>
internal interface ISamplingFields
{
    int? MinNewTokens { get; }
    float? Temperature { get; }
    float? TopP { get; }
    int? TopK { get; }
    float? MinP { get; }
    float? FrequencyPenalty { get; }
    float? PresencePenalty { get; }
    float? RepetitionPenalty { get; }
    List<string>? Stop { get; }
    List<int>? StopTokenIds { get; }
    bool? IgnoreEos { get; }
    bool? SkipSpecialTokens { get; }
    bool? SpacesBetweenSpecialTokens { get; }
    bool? NoStopTrim { get; }
    int? N { get; }
    long? Seed { get; }
    Dictionary<string, float>? LogitBias { get; }
}
