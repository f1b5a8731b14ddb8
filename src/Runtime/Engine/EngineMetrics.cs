namespace Specialized;

/// <summary>
/// What the engine is doing, as <see cref="Engine.GetMetrics"/> read it: SGLang's scheduler statistics. Each value
/// is read on its own without stopping the scheduler, so while requests come and go two of them may be a step apart.
/// </summary>
public sealed record EngineMetrics
{
    /// <summary>Requests submitted that do not run yet.</summary>
    public int QueuedRequests { get; init; }

    /// <summary>Requests being prefilled or decoded.</summary>
    public int RunningRequests { get; init; }

    /// <summary>KV pages held by running requests or by the prefix cache.</summary>
    public int UsedKvPages { get; init; }

    /// <summary>Of <see cref="UsedKvPages"/>, those the prefix cache holds for reuse (given back when others need them).</summary>
    public int CachedKvPages { get; init; }

    public int TotalKvPages { get; init; }

    /// <summary>Tokens per KV page.</summary>
    public int PageSize { get; init; }

    /// <summary>Fraction of the KV cache in use (SGLang's "token usage").</summary>
    public double KvCacheUsage => TotalKvPages == 0 ? 0 : (double)UsedKvPages / TotalKvPages;

    /// <summary>Prompt tokens found in the prefix cache over prompt tokens looked up, since start.</summary>
    public double PrefixCacheHitRate { get; init; }

    /// <summary>Prompt tokens computed per second over the last few seconds.</summary>
    public double PromptThroughput { get; init; }

    /// <summary>Tokens generated per second over the last few seconds.</summary>
    public double GenerationThroughput { get; init; }

    /// <summary>Requests that ended in the scheduler since start (finished, aborted or cancelled).</summary>
    public long FinishedRequests { get; init; }

    /// <summary>Prompt tokens computed since start (cached ones excluded, re-prefills of retracted requests included).</summary>
    public long PromptTokens { get; init; }

    /// <summary>Tokens generated since start: the sum of every request's output ids.</summary>
    public long GeneratedTokens { get; init; }

    /// <summary>Running requests taken off to free KV pages and re-queued, since start.</summary>
    public int Retractions { get; init; }
}
