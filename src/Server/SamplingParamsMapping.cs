using System.Globalization;
using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>
/// Turns a request's sampling fields, OpenAI's or SGLang's, into <see cref="SamplingParams"/> and validates them with
/// the engine's own rules, so a value out of range is a 400 naming the field as the caller spelled it.
/// </summary>
internal static class SamplingParamsMapping
{
    /// <summary>OpenAI's caps on how many alternatives a step may list (chat's top_logprobs; we apply it to completions too).</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>SamplingParams property -> the field of an OpenAI request that sets it.</summary>
    private static readonly Dictionary<string, string> OpenAiNames = Names(minNewTokens: "min_tokens");

    /// <summary>SamplingParams property -> SGLang's sampling_params field.</summary>
    private static readonly Dictionary<string, string> SglangNames = new(Names(minNewTokens: "min_new_tokens"))
    {
        [nameof(SamplingParams.MaxNewTokens)] = "max_new_tokens",
        [nameof(SamplingParams.TopLogprobsNum)] = "top_logprobs_num",
    };

    /// <param name="maxTokensField">The field that set <paramref name="maxTokens"/> ("max_tokens" or "max_completion_tokens").</param>
    /// <param name="topLogprobsField">The field that set <paramref name="topLogprobs"/> ("logprobs" or "top_logprobs").</param>
    public static SamplingParams FromOpenAi(OpenAiSamplingFields f, int vocabSize, int maxTokens, string maxTokensField,
        bool returnLogprob, int topLogprobs, string topLogprobsField)
    {
        SamplingParams p = Map(f, maxTokens, returnLogprob, topLogprobs);
        if (topLogprobs is < 0 or > MaxTopLogprobs)
        {
            throw new InvalidRequestException($"{topLogprobsField} must be in [0, {MaxTopLogprobs}], got {topLogprobs}", topLogprobsField);
        }
        var names = new Dictionary<string, string>(OpenAiNames)
        {
            [nameof(SamplingParams.MaxNewTokens)] = maxTokensField,
            [nameof(SamplingParams.TopLogprobsNum)] = topLogprobsField,
        };
        return Validated(p, vocabSize, names);
    }

    public static SamplingParams FromSglang(SglangSamplingParams? s, int vocabSize, bool returnLogprob, int topLogprobsNum)
    {
        s ??= new SglangSamplingParams();
        return Validated(Map(s, s.MaxNewTokens ?? new SamplingParams().MaxNewTokens, returnLogprob, topLogprobsNum), vocabSize, SglangNames);
    }

    /// <summary>The shared fields onto SamplingParams; a field not given keeps the engine's (SGLang's) default.</summary>
    private static SamplingParams Map(ISamplingFields f, int maxNewTokens, bool returnLogprob, int topLogprobs)
    {
        var defaults = new SamplingParams();
        return new SamplingParams
        {
            MaxNewTokens = maxNewTokens,
            MinNewTokens = f.MinNewTokens ?? defaults.MinNewTokens,
            Temperature = f.Temperature ?? defaults.Temperature,
            TopP = f.TopP ?? defaults.TopP,
            TopK = f.TopK ?? defaults.TopK,
            MinP = f.MinP ?? defaults.MinP,
            FrequencyPenalty = f.FrequencyPenalty ?? defaults.FrequencyPenalty,
            PresencePenalty = f.PresencePenalty ?? defaults.PresencePenalty,
            RepetitionPenalty = f.RepetitionPenalty ?? defaults.RepetitionPenalty,
            Stop = f.Stop,
            StopTokenIds = f.StopTokenIds,
            IgnoreEos = f.IgnoreEos ?? defaults.IgnoreEos,
            SkipSpecialTokens = f.SkipSpecialTokens ?? defaults.SkipSpecialTokens,
            SpacesBetweenSpecialTokens = f.SpacesBetweenSpecialTokens ?? defaults.SpacesBetweenSpecialTokens,
            NoStopTrim = f.NoStopTrim ?? defaults.NoStopTrim,
            N = f.N ?? defaults.N,
            Seed = f.Seed,
            LogitBias = LogitBias(f.LogitBias),
            ReturnLogprob = returnLogprob,
            TopLogprobsNum = topLogprobs,
        };
    }

    /// <summary>The field names both protocols spell alike, and the one they spell apart.</summary>
    private static Dictionary<string, string> Names(string minNewTokens) => new()
    {
        [nameof(SamplingParams.MinNewTokens)] = minNewTokens,
        [nameof(SamplingParams.Temperature)] = "temperature",
        [nameof(SamplingParams.TopP)] = "top_p",
        [nameof(SamplingParams.TopK)] = "top_k",
        [nameof(SamplingParams.MinP)] = "min_p",
        [nameof(SamplingParams.FrequencyPenalty)] = "frequency_penalty",
        [nameof(SamplingParams.PresencePenalty)] = "presence_penalty",
        [nameof(SamplingParams.RepetitionPenalty)] = "repetition_penalty",
        [nameof(SamplingParams.N)] = "n",
        [nameof(SamplingParams.LogitBias)] = "logit_bias",
        [nameof(SamplingParams.StopTokenIds)] = "stop_token_ids",
        [nameof(SamplingParams.Stop)] = "stop",
    };

    /// <summary>OpenAI's logit_bias keys are token ids written as strings.</summary>
    private static Dictionary<int, float>? LogitBias(Dictionary<string, float>? bias)
    {
        if (bias is null) return null;
        var parsed = new Dictionary<int, float>(bias.Count);
        foreach ((string key, float value) in bias)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                throw new InvalidRequestException($"logit_bias keys must be token ids, got \"{key}\"", "logit_bias");
            }
            parsed[id] = value;
        }
        return parsed;
    }

    /// <summary>
    /// Runs <see cref="SamplingParams.Validate"/>; its message names the field as "sglang_name (DotNetName)", which
    /// becomes the caller's own field name here.
    /// </summary>
    private static SamplingParams Validated(SamplingParams p, int vocabSize, Dictionary<string, string> names)
    {
        try
        {
            p.Validate(vocabSize);
            return p;
        }
        catch (ArgumentException e)
        {
            string? field = e.ParamName is not null && names.TryGetValue(e.ParamName, out string? name) ? name : e.ParamName;
            string message = e.Message;
            if (e.ParamName is not null)
            {
                message = message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
                int open = message.IndexOf($" ({e.ParamName}) ", StringComparison.Ordinal);
                if (field is not null && open > 0 && !message[..open].Contains(' ')) message = field + message[(open + e.ParamName.Length + 3)..];
            }
            throw new InvalidRequestException(message, field);
        }
    }
}
