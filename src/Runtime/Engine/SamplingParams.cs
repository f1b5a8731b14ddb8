using System.Globalization;

namespace Specialized;

/// <summary>
/// How one request samples and when it stops: SGLang's <c>SamplingParams</c> with .NET names, the same meanings,
/// defaults and ranges. <see cref="Validate"/> runs before a request is queued and throws an
/// <see cref="ArgumentException"/> naming the field and its range.
/// </summary>
public sealed record SamplingParams
{
    /// <summary>Tokens to generate at most (≥ 0). Clamped to what the context leaves after the prompt.</summary>
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>Tokens to generate before end-of-sequence and stop tokens may end the request (0 ≤ value ≤ MaxNewTokens).</summary>
    public int MinNewTokens { get; init; }

    /// <summary>Softmax temperature (finite, ≥ 0); below 1e-6 the request is greedy.</summary>
    public float Temperature { get; init; } = 1.0f;

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this, in (0, 1].</summary>
    public float TopP { get; init; } = 1.0f;

    /// <summary>Keep the k most likely tokens; -1 keeps all (−1 or ≥ 1).</summary>
    public int TopK { get; init; } = -1;

    /// <summary>Drop tokens less likely than this fraction of the most likely one, in [0, 1].</summary>
    public float MinP { get; init; }

    /// <summary>Subtracted per occurrence of a token in the output so far, in [-2, 2].</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Subtracted once for a token present in the output so far, in [-2, 2].</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Divides positive (multiplies negative) logits of tokens already in the output, in (0, 2]; 1 is none.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>Strings that end the request when the output contains them (trimmed from the text unless NoStopTrim).</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Token ids that end the request, besides end-of-sequence.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }

    /// <summary>Keep generating past end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Leave special tokens out of the text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>
    /// HF's decode option for putting spaces between added tokens in the text. Accepted for SGLang parity, and has no
    /// effect, as in SGLang: SGLang decodes Qwen with the fast (tokenizers) tokenizer, whose decode ignores it and
    /// joins special tokens with nothing between them (&lt;|im_start|&gt;&lt;|im_end|&gt;); only HF's slow Python
    /// tokenizers read it.
    /// </summary>
    public bool SpacesBetweenSpecialTokens { get; init; } = true;

    /// <summary>Keep the matched stop string or stop token in the output text.</summary>
    public bool NoStopTrim { get; init; }

    /// <summary>Independent samples to draw for the prompt (≥ 1).</summary>
    public int N { get; init; } = 1;

    /// <summary>Seed of this request's sampler: the same seed, prompt and parameters give the same output.</summary>
    public long? Seed { get; init; }

    /// <summary>Added to the logits of the given token ids before sampling (ids in [0, vocab)).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Return the log-probability of each output token (of the model's distribution, before sampling transforms).</summary>
    public bool ReturnLogprob { get; init; }

    /// <summary>With <see cref="ReturnLogprob"/>, also return this many most likely tokens at each step (≥ 0).</summary>
    public int TopLogprobsNum { get; init; }

    /// <summary>Return the last layer's hidden states (after the final norm), in SGLang's layout.</summary>
    public bool ReturnHiddenStates { get; init; }

    /// <summary>Whether this request samples greedily.</summary>
    public bool IsGreedy => Temperature < 1e-6f;

    /// <summary>
    /// Checks every field against SGLang's ranges (<c>SamplingParams.verify</c>) and the model's vocabulary. The
    /// message names the field as SGLang spells it and as .NET does, the allowed range and the value, so a caller
    /// coming from either side recognises it. NaN fails every range.
    /// </summary>
    /// <param name="vocabSize">Rows of the model's logits: token ids in logit_bias and stop_token_ids must be below it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A number is outside its range.</exception>
    /// <exception cref="ArgumentException">A stop string is empty.</exception>
    public void Validate(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        string idRange = $"[0, {vocabSize - 1}]";

        if (MaxNewTokens < 0) throw OutOfRange("max_new_tokens", nameof(MaxNewTokens), "must be at least 0", MaxNewTokens);
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens)
            throw OutOfRange("min_new_tokens", nameof(MinNewTokens), $"must be in [0, max_new_tokens ({MaxNewTokens})]", MinNewTokens);
        if (!(float.IsFinite(Temperature) && Temperature >= 0))
            throw OutOfRange("temperature", nameof(Temperature), "must be finite and at least 0", Temperature);
        if (!(TopP > 0 && TopP <= 1)) throw OutOfRange("top_p", nameof(TopP), "must be in (0, 1]", TopP);
        if (TopK is not -1 and < 1) throw OutOfRange("top_k", nameof(TopK), "must be -1 (all tokens) or at least 1", TopK);
        if (!(MinP >= 0 && MinP <= 1)) throw OutOfRange("min_p", nameof(MinP), "must be in [0, 1]", MinP);
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
            throw OutOfRange("frequency_penalty", nameof(FrequencyPenalty), "must be in [-2, 2]", FrequencyPenalty);
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
            throw OutOfRange("presence_penalty", nameof(PresencePenalty), "must be in [-2, 2]", PresencePenalty);
        // As SGLang's verify() now has it; its older releases accepted 0, which divides positive logits by zero.
        if (!(RepetitionPenalty > 0 && RepetitionPenalty <= 2))
            throw OutOfRange("repetition_penalty", nameof(RepetitionPenalty), "must be in (0, 2] (1 is no penalty)", RepetitionPenalty);
        if (N < 1) throw OutOfRange("n", nameof(N), "must be at least 1", N);
        // A request cannot rank more tokens than the vocabulary has.
        if (TopLogprobsNum < 0 || TopLogprobsNum > vocabSize)
            throw OutOfRange("top_logprobs_num", nameof(TopLogprobsNum), $"must be in [0, {vocabSize}]", TopLogprobsNum);

        if (LogitBias is not null)
        {
            foreach ((int id, float bias) in LogitBias)
            {
                if ((uint)id >= (uint)vocabSize)
                    throw OutOfRange("logit_bias", nameof(LogitBias), $"keys must be token ids in {idRange}", id);
                if (!float.IsFinite(bias))
                    throw OutOfRange("logit_bias", nameof(LogitBias), $"values must be finite (token {id})", bias);
            }
        }
        if (StopTokenIds is not null)
        {
            foreach (int id in StopTokenIds)
                if ((uint)id >= (uint)vocabSize) throw OutOfRange("stop_token_ids", nameof(StopTokenIds), $"must be token ids in {idRange}", id);
        }
        if (Stop is not null)
        {
            for (int i = 0; i < Stop.Count; i++)
            {
                // An empty stop string would match before the first token, ending every request with no output.
                if (string.IsNullOrEmpty(Stop[i]))
                    throw new ArgumentException($"stop ({nameof(Stop)}) must hold non-empty strings, got an empty one at index {i}", nameof(Stop));
            }
        }
    }

    private static ArgumentOutOfRangeException OutOfRange<T>(string sglangName, string dotnetName, string rule, T value)
        where T : IFormattable =>
        new(dotnetName, $"{sglangName} ({dotnetName}) {rule}, got {value.ToString(null, CultureInfo.InvariantCulture)}");
}
