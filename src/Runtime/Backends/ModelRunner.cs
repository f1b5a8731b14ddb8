using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Backends;

/// <summary>
/// Sizes a model runner allocates for. <paramref name="CudaGraphMaxBatch"/>: the largest decode batch replayed as a
/// CUDA graph (0: none), where the backend can record them. <paramref name="BackgroundCompile"/>: kernels that only
/// make some steps faster (on CUDA the tensor-core GEMM and the prefill and decode attention) compile in the background, and steps run with
/// the other kernels until they are ready; the engine sets it for its time to first token, while checks and
/// benchmarks leave it off so that they always run the kernel they mean to. <paramref name="Bf16Activations"/>: the
/// tensor-core GEMMs round their inputs to bf16, as PyTorch's bf16 inference does, for about half their tensor work;
/// otherwise each input is carried by two bf16 terms, near enough float32 (the CPU backend computes in float32 either way).
/// </summary>
public sealed record RunnerOptions(int MaxBatchTokens, int MaxLogitRows, KvCacheLayout Kv, int MaxPositions, int CudaGraphMaxBatch = 0,
    bool BackgroundCompile = false, bool Bf16Activations = false);

/// <summary>
/// Runs forward steps of one model on one backend: it owns the weights, the workspace and the KV cache (through the
/// kernels), and turns a <see cref="ForwardBatch"/> into logits. The model stays ignorant of requests; the runner
/// stays ignorant of scheduling.
/// </summary>
public interface IModelRunner : IDisposable
{
    ModelSpec Spec { get; }

    RunnerOptions Options { get; }

    IBackend Backend { get; }

    /// <summary>Whether the runner uses code specialized at build time, or the generic run-time-dims kernels.</summary>
    bool IsSpecialized { get; }

    /// <summary>
    /// One step. Returns the logits of <c>batch.LogitRows</c> as [rows, vocab], and the final hidden states [T, hidden]
    /// when asked; both stay valid until the next call.
    /// </summary>
    ForwardOutput Forward(ForwardBatch batch, bool returnHiddenStates = false);

    /// <summary>
    /// One step whose logit rows all decode greedily: the argmax token of each row, picked on the device, so only one
    /// int per row crosses to the host. Valid until the next call.
    /// </summary>
    ReadOnlyMemory<int> ForwardGreedy(ForwardBatch batch);

    /// <summary>Completes when the kernels that compile in the background (<see cref="RunnerOptions.BackgroundCompile"/>) are ready.</summary>
    Task KernelsCompiled => Task.CompletedTask;
}

/// <summary>The host-side results of one step. The arrays are reused by the next step.</summary>
public readonly record struct ForwardOutput(ReadOnlyMemory<float> Logits, ReadOnlyMemory<float> HiddenStates);

public sealed class ModelRunner<TDims> : IModelRunner where TDims : struct, IQwen2Dims
{
    private readonly IQwen2Model<TDims> _model;
    private readonly IQwen2Kernels<TDims> _kernels;
    private readonly Qwen2Workspace _workspace;
    private readonly float[] _logits;
    private readonly float[] _hidden;
    private readonly int[] _tokens;
    private readonly Action<ForwardBatch> _forward;

    public ModelRunner(IQwen2Model<TDims> model, IBackend backend, RunnerOptions options, bool isSpecialized, IProgress<EngineLoadProgress>? progress = null)
    {
        _model = model;
        Backend = backend;
        Options = options;
        IsSpecialized = isSpecialized;
        TDims d = model.Dims;
        int t = options.MaxBatchTokens;
        _kernels = backend.CreateKernels(d, options, progress);
        _workspace = new Qwen2Workspace(
            backend.CreateActivations(t, d.HiddenSize), backend.CreateActivations(t, d.HiddenSize),
            backend.CreateActivations(t, d.HiddenSize), backend.CreateActivations(t, d.QkvSize),
            backend.CreateActivations(t, d.QSize), backend.CreateActivations(t, 2 * d.IntermediateSize),
            backend.CreateActivations(t, d.IntermediateSize), backend.CreateActivations(options.MaxLogitRows, d.VocabSize));
        _logits = new float[(long)options.MaxLogitRows * d.VocabSize];
        _hidden = new float[(long)t * d.HiddenSize];
        _tokens = new int[options.MaxLogitRows];
        _forward = b => _model.Forward(_kernels, _workspace, b);
    }

    public ModelSpec Spec => _model.Spec;

    public RunnerOptions Options { get; }

    public IBackend Backend { get; }

    public bool IsSpecialized { get; }

    public Task KernelsCompiled => _kernels is IBackgroundCompilation c ? c.Compiled : Task.CompletedTask;

    public IWeightTree Weights => _model.Weights;

    /// <summary>The backend's kernels this runner drives (for tests of backend-specific behaviour).</summary>
    internal IQwen2Kernels<TDims> Kernels => _kernels;

    public ReadOnlyMemory<int> ForwardGreedy(ForwardBatch batch)
    {
        Check(batch);
        Run(batch);
        int rows = batch.LogitRows.Length;
        Backend.ArgMaxRows(_workspace.Logits, rows, _tokens);
        return _tokens.AsMemory(0, rows);
    }

    public ForwardOutput Forward(ForwardBatch batch, bool returnHiddenStates = false)
    {
        Check(batch);
        Run(batch);

        int vocab = _model.Dims.VocabSize;
        int rows = batch.LogitRows.Length;
        Backend.CopyRows(_workspace.Logits, rows, _logits);
        ReadOnlyMemory<float> hidden = default;
        if (returnHiddenStates)
        {
            Backend.CopyRows(_workspace.Normed, batch.TokenCount, _hidden);
            hidden = _hidden.AsMemory(0, batch.TokenCount * _model.Dims.HiddenSize);
        }
        return new ForwardOutput(_logits.AsMemory(0, rows * vocab), hidden);
    }

    /// <summary>The step, replayed where the kernels can; either way the workspace's first rows are the batch's.</summary>
    private void Run(ForwardBatch batch)
    {
        if (_kernels is IDecodeStepReplay replay && replay.TryRun(batch, _forward)) return;
        _forward(batch);
    }

    private void Check(ForwardBatch batch)
    {
        if (batch.TokenCount == 0) throw new ArgumentException("A forward step needs at least one token.", nameof(batch));
        if (batch.TokenCount > Options.MaxBatchTokens)
        {
            throw new ArgumentException($"The batch has {batch.TokenCount} tokens; this runner holds at most {Options.MaxBatchTokens}.", nameof(batch));
        }
        if (batch.LogitRows.Length > Options.MaxLogitRows)
        {
            throw new ArgumentException($"The batch asks for {batch.LogitRows.Length} logit rows; this runner holds at most {Options.MaxLogitRows}.", nameof(batch));
        }
        if (batch.PageSize != Options.Kv.PageSize) throw new ArgumentException("The batch's page size differs from the KV cache's.", nameof(batch));
    }

    public void Dispose()
    {
        _workspace.Dispose();
        foreach (Parameter p in _model.Weights.Parameters)
        {
            if (p.IsBound) p.Value.Dispose();
        }
        (_kernels as IDisposable)?.Dispose();
    }
}
