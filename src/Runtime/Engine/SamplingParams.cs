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

    /// <summary>Divides positive (multiplies negative) logits of tokens already seen, in (0, 2]; 1 is none.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>Strings that end the request when the output contains them (trimmed from the text unless NoStopTrim).</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Token ids that end the request, besides end-of-sequence.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }

    /// <summary>Keep generating past end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Leave special tokens out of the text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>Put spaces between special tokens in the text (HF's decode option).</summary>
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
}
