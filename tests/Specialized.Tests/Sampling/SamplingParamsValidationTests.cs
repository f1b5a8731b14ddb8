namespace Specialized.Tests.Sampling;

/// <summary>Every field is checked against SGLang's range, and the message names the field both ways and the range.</summary>
public sealed class SamplingParamsValidationTests
{
    private const int Vocab = 1000;
    private static readonly SamplingParams Defaults = new();

    public static TheoryData<string, SamplingParams, string> Invalid() => new()
    {
        { "max_new_tokens (MaxNewTokens)", Defaults with { MaxNewTokens = -1 }, "at least 0, got -1" },
        { "min_new_tokens (MinNewTokens)", Defaults with { MinNewTokens = -1 }, "[0, max_new_tokens (128)], got -1" },
        { "min_new_tokens (MinNewTokens)", Defaults with { MinNewTokens = 129 }, "[0, max_new_tokens (128)], got 129" },
        { "temperature (Temperature)", Defaults with { Temperature = -0.5f }, "finite and at least 0, got -0.5" },
        { "temperature (Temperature)", Defaults with { Temperature = float.NaN }, "finite and at least 0, got NaN" },
        { "temperature (Temperature)", Defaults with { Temperature = float.PositiveInfinity }, "finite and at least 0, got Infinity" },
        { "top_p (TopP)", Defaults with { TopP = 1.5f }, "(0, 1], got 1.5" },
        { "top_p (TopP)", Defaults with { TopP = 0 }, "(0, 1], got 0" },
        { "top_p (TopP)", Defaults with { TopP = float.NaN }, "(0, 1], got NaN" },
        { "top_k (TopK)", Defaults with { TopK = 0 }, "-1 (all tokens) or at least 1, got 0" },
        { "top_k (TopK)", Defaults with { TopK = -2 }, "-1 (all tokens) or at least 1, got -2" },
        { "min_p (MinP)", Defaults with { MinP = -0.1f }, "[0, 1], got -0.1" },
        { "min_p (MinP)", Defaults with { MinP = 1.1f }, "[0, 1], got 1.1" },
        { "min_p (MinP)", Defaults with { MinP = float.NaN }, "[0, 1], got NaN" },
        { "frequency_penalty (FrequencyPenalty)", Defaults with { FrequencyPenalty = 2.5f }, "[-2, 2], got 2.5" },
        { "frequency_penalty (FrequencyPenalty)", Defaults with { FrequencyPenalty = -2.5f }, "[-2, 2], got -2.5" },
        { "frequency_penalty (FrequencyPenalty)", Defaults with { FrequencyPenalty = float.NaN }, "[-2, 2], got NaN" },
        { "presence_penalty (PresencePenalty)", Defaults with { PresencePenalty = 3 }, "[-2, 2], got 3" },
        { "presence_penalty (PresencePenalty)", Defaults with { PresencePenalty = float.NaN }, "[-2, 2], got NaN" },
        { "repetition_penalty (RepetitionPenalty)", Defaults with { RepetitionPenalty = 0 }, "(0, 2] (1 is no penalty), got 0" },
        { "repetition_penalty (RepetitionPenalty)", Defaults with { RepetitionPenalty = 2.5f }, "(0, 2] (1 is no penalty), got 2.5" },
        { "repetition_penalty (RepetitionPenalty)", Defaults with { RepetitionPenalty = float.NaN }, "(0, 2] (1 is no penalty), got NaN" },
        { "n (N)", Defaults with { N = 0 }, "at least 1, got 0" },
        { "top_logprobs_num (TopLogprobsNum)", Defaults with { TopLogprobsNum = -1 }, "[0, 1000], got -1" },
        { "top_logprobs_num (TopLogprobsNum)", Defaults with { TopLogprobsNum = Vocab + 1 }, "[0, 1000], got 1001" },
        { "logit_bias (LogitBias)", Defaults with { LogitBias = new Dictionary<int, float> { [Vocab] = 1 } }, "token ids in [0, 999], got 1000" },
        { "logit_bias (LogitBias)", Defaults with { LogitBias = new Dictionary<int, float> { [-1] = 1 } }, "token ids in [0, 999], got -1" },
        { "logit_bias (LogitBias)", Defaults with { LogitBias = new Dictionary<int, float> { [3] = float.NaN } }, "finite (token 3), got NaN" },
        { "logit_bias (LogitBias)", Defaults with { LogitBias = new Dictionary<int, float> { [3] = float.NegativeInfinity } }, "finite (token 3), got -Infinity" },
        { "stop_token_ids (StopTokenIds)", Defaults with { StopTokenIds = [5, Vocab] }, "token ids in [0, 999], got 1000" },
        { "stop_token_ids (StopTokenIds)", Defaults with { StopTokenIds = [-1] }, "token ids in [0, 999], got -1" },
        { "stop (Stop)", Defaults with { Stop = ["ok", ""] }, "non-empty strings, got an empty one at index 1" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_field_is_named_with_its_range(string field, SamplingParams parameters, string rangeAndValue)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => parameters.Validate(Vocab));
        Assert.StartsWith(field + " ", error.Message);
        Assert.Contains(rangeAndValue, error.Message);
    }

    [Fact]
    public void Defaults_pass() => Defaults.Validate(Vocab);

    /// <summary>SGLang's SamplingParams defaults (sampling_params.py), field by field.</summary>
    [Fact]
    public void Defaults_are_sglangs()
    {
        Assert.Equal(128, Defaults.MaxNewTokens);
        Assert.Equal(0, Defaults.MinNewTokens);
        Assert.Equal(1.0f, Defaults.Temperature);
        Assert.Equal(1.0f, Defaults.TopP);
        Assert.Equal(-1, Defaults.TopK);
        Assert.Equal(0f, Defaults.MinP);
        Assert.Equal(0f, Defaults.FrequencyPenalty);
        Assert.Equal(0f, Defaults.PresencePenalty);
        Assert.Equal(1.0f, Defaults.RepetitionPenalty);
        Assert.Null(Defaults.Stop);
        Assert.Null(Defaults.StopTokenIds);
        Assert.False(Defaults.IgnoreEos);
        Assert.True(Defaults.SkipSpecialTokens);
        Assert.True(Defaults.SpacesBetweenSpecialTokens);
        Assert.False(Defaults.NoStopTrim);
        Assert.Equal(1, Defaults.N);
        Assert.Null(Defaults.Seed);
        Assert.Null(Defaults.LogitBias);
        Assert.False(Defaults.IsGreedy);
        // generate()'s defaults for what SGLang passes beside the sampling params.
        Assert.False(Defaults.ReturnLogprob);
        Assert.Equal(0, Defaults.TopLogprobsNum);
        Assert.False(Defaults.ReturnHiddenStates);
    }

    public static TheoryData<SamplingParams> Boundaries() =>
    [
        Defaults with { MaxNewTokens = 0 },
        Defaults with { MinNewTokens = 128 },
        Defaults with { Temperature = 0 },
        Defaults with { TopP = 1e-6f },
        Defaults with { TopK = 1, MinP = 1 },
        Defaults with { TopK = 5000 },
        Defaults with { FrequencyPenalty = -2, PresencePenalty = 2 },
        Defaults with { RepetitionPenalty = 2 },
        Defaults with { RepetitionPenalty = 1e-3f },
        Defaults with { TopLogprobsNum = Vocab, ReturnLogprob = true },
        Defaults with { LogitBias = new Dictionary<int, float> { [0] = -100, [Vocab - 1] = 100 }, StopTokenIds = [0, Vocab - 1], Stop = ["\n\n"] },
    ];

    [Theory]
    [MemberData(nameof(Boundaries))]
    public void Values_at_the_ends_of_their_ranges_pass(SamplingParams parameters) => parameters.Validate(Vocab);
}
