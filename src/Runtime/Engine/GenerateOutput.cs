namespace Specialized;

/// <summary>Why a request ended, as SGLang reports it.</summary>
public enum FinishType
{
    /// <summary>An end-of-sequence token, a stop token or a stop string.</summary>
    Stop,

    /// <summary>MaxNewTokens reached, or the context is full.</summary>
    Length,

    /// <summary>Cancelled, rejected (prompt too long for the context or the KV cache) or the engine shut down.</summary>
    Abort,
}

/// <summary>SGLang's <c>finish_reason</c>: the type, what matched (a token id or a stop string) and, for aborts, why.</summary>
public sealed record FinishReason(FinishType Type, object? Matched = null, string? Message = null)
{
    /// <summary>"stop", "length" or "abort", as in SGLang's JSON.</summary>
    public string TypeName => Type.ToString().ToLowerInvariant();

    public override string ToString() => Matched is null && Message is null ? TypeName : $"{TypeName} ({Matched ?? Message})";
}

/// <summary>SGLang's <c>meta_info</c>.</summary>
public sealed record MetaInfo
{
    public required string Id { get; init; }
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }

    /// <summary>Prompt tokens whose KV came from the prefix cache instead of being computed.</summary>
    public int CachedTokens { get; init; }

    /// <summary>Set on the final output (and the last stream chunk).</summary>
    public FinishReason? FinishReason { get; init; }

    /// <summary>Seconds from submission to the end; set on the final output.</summary>
    public double E2ELatency { get; init; }
}

/// <summary>The result of one request (one sample when N &gt; 1).</summary>
public sealed record GenerateOutput
{
    /// <summary>The generated text (stop string trimmed unless NoStopTrim); null when the model has no tokenizer.</summary>
    public string? Text { get; init; }

    public required IReadOnlyList<int> OutputIds { get; init; }

    public required MetaInfo MetaInfo { get; init; }

    /// <summary>With ReturnLogprob: each output token's log-probability under the model.</summary>
    public IReadOnlyList<Sampling.TokenLogprob>? OutputTokenLogprobs { get; init; }

    /// <summary>With TopLogprobsNum &gt; 0: the most likely tokens at each output step.</summary>
    public IReadOnlyList<IReadOnlyList<Sampling.TokenLogprob>>? OutputTopLogprobs { get; init; }

    /// <summary>
    /// With ReturnHiddenStates, SGLang's layout: element 0 holds the prompt positions [prompt][hidden] (those
    /// computed in this request), then one [1][hidden] element per generated token that was fed back.
    /// </summary>
    public IReadOnlyList<float[][]>? HiddenStates { get; init; }
}

/// <summary>One piece of a streamed request: the new text and ids since the previous chunk.</summary>
public sealed record StreamChunk
{
    /// <summary>Text added since the last chunk; never ends inside a UTF-8 character or a possible stop string.</summary>
    public required string TextDelta { get; init; }

    public required IReadOnlyList<int> NewOutputIds { get; init; }

    /// <summary>Counts so far; FinishReason is set on the last chunk.</summary>
    public required MetaInfo MetaInfo { get; init; }

    /// <summary>With a batch, which prompt (and sample) this chunk belongs to, in input order.</summary>
    public int Index { get; init; }

    public bool IsLast => MetaInfo.FinishReason is not null;
}
