using Microsoft.Extensions.Logging;

namespace Specialized;

/// <summary>
/// How an <see cref="Engine"/> runs: SGLang's server arguments that matter offline, with defaults that just work.
/// Null means "pick for the device".
/// </summary>
public sealed record EngineOptions
{
    /// <summary>"auto" (CUDA when a device exists), "cuda" or "cpu".</summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// Requests decoded together at most. Default: 1024 on a GPU, 32 on the CPU. (SGLang's default is 2048 or more; on
    /// an H200 the offline benchmark of 1000 x 1024/256 ran 12.5 k output tok/s at 256, 14.3 k at 1024, 13.9 k at 2048.)
    /// </summary>
    public int? MaxRunningRequests { get; init; }

    /// <summary>
    /// KV cache capacity in tokens. Default: <see cref="MemoryFraction"/> of the GPU's memory; on the CPU, four times
    /// the context length, at most 16384 tokens.
    /// </summary>
    public int? MaxTotalTokens { get; init; }

    /// <summary>Fraction of GPU memory for weights, activations and KV cache together, when MaxTotalTokens is not set.</summary>
    public double MemoryFraction { get; init; } = 0.85;

    /// <summary>
    /// Prompt tokens prefilled per step (longer prompts are chunked); the step's decoding requests add one token each
    /// beside them. Default: 8192 on a GPU, 512 on the CPU; -1 disables chunking.
    /// </summary>
    public int? ChunkedPrefillSize { get; init; }

    /// <summary>Turns off the radix prefix cache: every prompt is prefilled in full.</summary>
    public bool DisableRadixCache { get; init; }

    /// <summary>Runs every decode step launch by launch instead of replaying recorded CUDA graphs (CUDA only).</summary>
    public bool DisableCudaGraph { get; init; }

    /// <summary>The largest decode batch replayed as a CUDA graph; larger ones run launch by launch. Default: MaxRunningRequests, at most 256.</summary>
    public int? CudaGraphMaxBatchSize { get; init; }

    /// <summary>
    /// Rounds the inputs of the GPU's tensor-core GEMMs to bf16, as PyTorch's (and SGLang's) bf16 inference does: the
    /// GEMMs do about half the tensor work. Off, each input is carried as two bf16 terms, within ~2^-17 of float32, so
    /// the engine answers like the float32 reference. The CPU backend computes in float32 either way.
    /// </summary>
    public bool Bf16Activations { get; init; }

    /// <summary>
    /// What the KV cache stores (SGLang's <c>kv_cache_dtype</c>): float32 (the default, the float32 reference's
    /// attention) or bf16 (half the memory and half the bytes a decode step's attention reads; SGLang's cache for a
    /// bf16 model). The CPU backend rounds the stored values the same way.
    /// </summary>
    public KvCacheDtype KvCacheDtype { get; init; } = KvCacheDtype.Float32;

    /// <summary>
    /// The folder where GPU kernels' PTX is kept between processes (<see cref="Kernels.PtxCache"/>), so only a new build of
    /// the engine or a new kind of GPU compiles them: null turns it off. Default: <c>$SPECIALIZED_KERNEL_CACHE</c>
    /// (<c>off</c> for none), else <c>~/.cache/specialized/kernels</c> (under <c>$XDG_CACHE_HOME</c> where set).
    /// </summary>
    public string? KernelCacheDirectory { get; init; } = Kernels.PtxCache.DefaultDirectory;

    /// <summary>Longest prompt plus output. Default: the config's max_position_embeddings.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Seed from which requests without their own seed get one. Default: random.</summary>
    public long? RandomSeed { get; init; }

    /// <summary>Tokens per KV cache page; prefix-cache hits are whole pages.</summary>
    public int PageSize { get; init; } = 16;

    /// <summary>Where the engine logs (start-up, warnings, periodic metrics). Default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The least severe messages logged.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    /// <summary>
    /// Told each stage of <see cref="Engine.Create"/> (and the weight bytes loaded so far), on the creating thread:
    /// the load takes seconds on a real checkpoint, most of it weights and kernel compilation.
    /// </summary>
    public IProgress<EngineLoadProgress>? Progress { get; init; }

    /// <summary>
    /// How often the engine logs its metrics (running and queued requests, KV usage, throughput) at Information level
    /// while it has work; null or zero turns the line off. <see cref="Engine.GetMetrics"/> works either way.
    /// </summary>
    public TimeSpan? MetricsLogInterval { get; init; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        if (MaxRunningRequests is < 1) throw new ArgumentException($"MaxRunningRequests must be at least 1, got {MaxRunningRequests}.");
        if (CudaGraphMaxBatchSize is < 1) throw new ArgumentException($"CudaGraphMaxBatchSize must be at least 1, got {CudaGraphMaxBatchSize}.");
        if (MaxTotalTokens is < 1) throw new ArgumentException($"MaxTotalTokens must be at least 1, got {MaxTotalTokens}.");
        if (!(MemoryFraction > 0 && MemoryFraction <= 1)) throw new ArgumentException($"MemoryFraction must be in (0, 1], got {MemoryFraction}.");
        if (ChunkedPrefillSize is 0 or < -1) throw new ArgumentException($"ChunkedPrefillSize must be -1 or positive, got {ChunkedPrefillSize}.");
        if (ContextLength is < 1) throw new ArgumentException($"ContextLength must be at least 1, got {ContextLength}.");
        if (PageSize < 1) throw new ArgumentException($"PageSize must be at least 1, got {PageSize}.");
        if (MetricsLogInterval < TimeSpan.Zero) throw new ArgumentException($"MetricsLogInterval must not be negative, got {MetricsLogInterval}.");
    }
}
