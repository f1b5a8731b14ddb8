using System.Diagnostics;
using System.Text;
using Specialized.Memory;
using Specialized.Sampling;
using Specialized.Text;

namespace Specialized.Scheduling;

/// <summary>
/// One request as the scheduler tracks it: its tokens, where their KV lives, its sampler and text state, and the
/// channel its results go out through. Owned by the scheduler thread; callers only see <see cref="Completion"/> and
/// <see cref="Stream"/>.
/// </summary>
internal sealed class Request
{
    public Request(string id, int index, int[] promptIds, SamplingParams parameters, int maxNewTokens, TokenSampler sampler,
        HashSet<int> stopTokenIds, Qwen2Tokenizer? tokenizer, StreamSink? stream)
    {
        Id = id;
        Index = index;
        PromptIds = promptIds;
        Parameters = parameters;
        MaxNewTokens = maxNewTokens;
        Sampler = sampler;
        StopTokenIds = stopTokenIds;
        if (tokenizer is not null)
        {
            Detokenizer = new IncrementalDetokenizer(tokenizer, parameters.SkipSpecialTokens);
            StopMatcher = parameters.Stop is { Count: > 0 } stops ? new StopStringMatcher(stops) : null;
        }
        Stream = stream;
        if (parameters.ReturnLogprob) Logprobs = [];
        if (parameters.ReturnLogprob && parameters.TopLogprobsNum > 0) TopLogprobs = [];
        if (parameters.ReturnHiddenStates) HiddenStates = [];
    }

    public string Id { get; }

    /// <summary>Position in the caller's batch (prompt-major, then sample), for stream chunks.</summary>
    public int Index { get; }

    public int[] PromptIds { get; }

    public SamplingParams Parameters { get; }

    /// <summary>MaxNewTokens, clamped to what the context leaves after the prompt.</summary>
    public int MaxNewTokens { get; }

    public TokenSampler Sampler { get; }

    /// <summary>End-of-sequence ids (unless IgnoreEos) and the request's stop token ids.</summary>
    public HashSet<int> StopTokenIds { get; }

    public IncrementalDetokenizer? Detokenizer { get; }

    public StopStringMatcher? StopMatcher { get; }

    public List<int> OutputIds { get; } = [];

    public StringBuilder Text { get; } = new();

    public List<TokenLogprob>? Logprobs { get; }

    public List<IReadOnlyList<TokenLogprob>>? TopLogprobs { get; }

    public List<float[][]>? HiddenStates { get; }

    // ---- KV state ----

    /// <summary>Pages holding the KV of tokens [0, ComputedTokens), in position order; the first ones may be the prefix cache's.</summary>
    public List<int> Pages { get; } = [];

    /// <summary>Tokens (prompt, then output) whose KV is computed.</summary>
    public int ComputedTokens { get; set; }

    /// <summary>The prefix-cache node this request holds a lock on while it has KV, or null.</summary>
    public RadixNode? LockedNode { get; set; }

    /// <summary>Prompt tokens the prefix cache supplied at admission.</summary>
    public int CachedTokens { get; set; }

    /// <summary>Leading pages of <see cref="Pages"/> that belong to the prefix cache (shared, never freed by this request).</summary>
    public int SharedPages { get; set; }

    /// <summary>Prompt then output tokens: the sequence whose KV the model needs before sampling the next token.</summary>
    public int TotalTokens => PromptIds.Length + OutputIds.Count;

    /// <summary>
    /// Whether the next step feeds back the last output token alone. A retracted request computing its outputs again
    /// is prefilling, and so is a prompt whose last chunk happens to be one token.
    /// </summary>
    public bool IsDecoding => OutputIds.Count > 0 && ComputedTokens + 1 == TotalTokens;

    public int TokenAt(int i) => i < PromptIds.Length ? PromptIds[i] : OutputIds[i - PromptIds.Length];

    public int[] Tokens(int start, int count)
    {
        var tokens = new int[count];
        for (int i = 0; i < count; i++) tokens[i] = TokenAt(start + i);
        return tokens;
    }

    // ---- results ----

    public long SubmittedAt { get; } = Stopwatch.GetTimestamp();

    public FinishReason? Finish { get; set; }

    /// <summary>Where stream chunks go, when the caller streams.</summary>
    public StreamSink? Stream { get; }

    public TaskCompletionSource<GenerateOutput> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set from the caller's thread when its token is cancelled; the scheduler acts on it.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>Wakes the scheduler when the caller cancels; disposed when the request ends.</summary>
    public CancellationTokenRegistration Registration { get; set; }

    public MetaInfo Meta(FinishReason? finish) => new()
    {
        Id = Id,
        PromptTokens = PromptIds.Length,
        CompletionTokens = OutputIds.Count,
        CachedTokens = CachedTokens,
        FinishReason = finish,
        E2ELatency = finish is null ? 0 : Stopwatch.GetElapsedTime(SubmittedAt).TotalSeconds,
    };

    /// <summary>Ends the request: the last chunk (with the finish reason) and the final output go out.</summary>
    public void Complete(FinishReason finish, string delta = "", IReadOnlyList<int>? ids = null)
    {
        Registration.Dispose();
        Finish = finish;
        Stream?.Write(new StreamChunk { TextDelta = delta, NewOutputIds = ids ?? [], MetaInfo = Meta(finish), Index = Index });
        Stream?.RequestEnded();
        Completion.TrySetResult(Output());
    }

    /// <summary>Ends the request for a cancelled caller: its waits throw OperationCanceledException.</summary>
    public void CompleteCancelled()
    {
        Registration.Dispose();
        Finish = new FinishReason(FinishType.Abort, Message: "cancelled");
        Stream?.Fail(new OperationCanceledException(CancellationToken));
        Completion.TrySetCanceled(CancellationToken);
    }

    public GenerateOutput Output() => new()
    {
        Text = Detokenizer is null ? null : Text.ToString(),
        OutputIds = OutputIds.ToArray(),
        MetaInfo = Meta(Finish),
        OutputTokenLogprobs = Logprobs?.ToArray(),
        OutputTopLogprobs = TopLogprobs?.ToArray(),
        HiddenStates = HiddenStates?.ToArray(),
    };
}

/// <summary>
/// The stream of one Generate call: chunks of all its requests, interleaved as they come, in one channel that
/// completes when the last request ends.
/// </summary>
internal sealed class StreamSink
{
    private readonly System.Threading.Channels.Channel<StreamChunk> _channel =
        System.Threading.Channels.Channel.CreateUnbounded<StreamChunk>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private int _remaining;

    public StreamSink(int requests) => _remaining = requests;

    public System.Threading.Channels.ChannelReader<StreamChunk> Reader => _channel.Reader;

    public void Write(StreamChunk chunk) => _channel.Writer.TryWrite(chunk);

    public void RequestEnded()
    {
        if (Interlocked.Decrement(ref _remaining) == 0) _channel.Writer.TryComplete();
    }

    public void Fail(Exception error) => _channel.Writer.TryComplete(error);
}
