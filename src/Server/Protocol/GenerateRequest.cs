using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>The body of SGLang's native <c>POST /generate</c> (<c>GenerateReqInput</c>): text or input_ids, one or a batch.</summary>
internal sealed class GenerateRequest
{
    public PromptInput? Text { get; init; }
    public PromptInput? InputIds { get; init; }
    public SglangSamplingParams? SamplingParams { get; init; }
    public bool Stream { get; init; }
    public bool ReturnLogprob { get; init; }
    public int? TopLogprobsNum { get; init; }
}

/// <summary>SGLang's <c>sampling_params</c>, with its names; null means SGLang's default.</summary>
internal sealed class SglangSamplingParams : ISamplingFields
{
    public int? MaxNewTokens { get; init; }
    public int? MinNewTokens { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? PresencePenalty { get; init; }
    public float? RepetitionPenalty { get; init; }

    [JsonConverter(typeof(StringOrListConverter))]
    public List<string>? Stop { get; init; }

    public List<int>? StopTokenIds { get; init; }
    public bool? IgnoreEos { get; init; }
    public bool? SkipSpecialTokens { get; init; }
    public bool? SpacesBetweenSpecialTokens { get; init; }
    public bool? NoStopTrim { get; init; }
    public int? N { get; init; }
    public long? SamplingSeed { get; init; }
    long? ISamplingFields.Seed => SamplingSeed;
    public Dictionary<string, float>? LogitBias { get; init; }
}
