using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Backends;

/// <summary>A model ready to run, and how it was put together.</summary>
public sealed record LoadedModel(IModelRunner Runner, ModelDescriptor? Specialization, IReadOnlyList<CheckpointWarning> Warnings) : IDisposable
{
    /// <summary>Frees the runner's weights, workspace and KV cache; the backend stays with whoever created it.</summary>
    public void Dispose() => Runner.Dispose();

    /// <summary>One line for logs: which code runs the checkpoint.</summary>
    public string Description => Specialization is null
        ? $"generic kernels with run-time dimensions (no specialized build matches fingerprint {Runner.Spec.FingerprintHash})"
        : $"specialized build {Specialization.Name}";
}

/// <summary>
/// Turns a checkpoint folder into a running model: reads config.json with the build's rules, picks the specialized
/// model with the same fingerprint (or the generic one), checks every tensor against its weight tree, and uploads
/// the weights to the backend.
/// </summary>
public static class ModelLoader
{
    /// <summary>Loads the checkpoint; <paramref name="progress"/> hears the weight bytes copied so far, then the kernel stages.</summary>
    public static LoadedModel Load(string checkpointFolder, IBackend backend, Func<ModelSpec, RunnerOptions> options, IProgress<EngineLoadProgress>? progress = null)
    {
        ModelSpec spec = ModelConfig.Load(checkpointFolder);
        ModelDescriptor? descriptor = ModelRegistry.Find(spec);
        using Checkpoint checkpoint = Checkpoint.Open(checkpointFolder);
        var builder = new RunnerBuilder(backend, options(spec), checkpoint, descriptor is not null, progress);
        var (runner, warnings) = descriptor is null ? builder.Visit(new GenericQwen2Model(spec)) : descriptor.Accept(builder);
        return new LoadedModel(runner, descriptor, warnings);
    }

    private sealed class RunnerBuilder(IBackend backend, RunnerOptions options, Checkpoint checkpoint, bool specialized, IProgress<EngineLoadProgress>? progress)
        : IModelVisitor<(IModelRunner, IReadOnlyList<CheckpointWarning>)>
    {
        public (IModelRunner, IReadOnlyList<CheckpointWarning>) Visit<TDims>(IQwen2Model<TDims> model) where TDims : struct, IQwen2Dims
        {
            WeightPlan plan = WeightBinder.Plan(model.Weights, checkpoint);
            long total = plan.Parameters.Sum(p => p.Sources.Sum(s => s.ByteLength)), done = 0;
            progress?.Report(new EngineLoadProgress(EngineLoadStage.LoadingWeights, 0, total));
            foreach (ParameterPlan p in plan.Parameters)
            {
                p.Parameter.Bind(backend.CreateWeight(p.Parameter, p.CheckpointDType, p));
                done += p.Sources.Sum(s => s.ByteLength);
                progress?.Report(new EngineLoadProgress(EngineLoadStage.LoadingWeights, done, total));
            }
            return (new ModelRunner<TDims>(model, backend, options, specialized, progress), plan.Warnings);
        }
    }
}
