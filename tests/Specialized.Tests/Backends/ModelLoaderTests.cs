using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Tests.Support;
using Specialized.Weights;

namespace Specialized.Tests.Backends;

/// <summary>Loading a checkpoint picks the specialized build when one matches, and the generic kernels agree with it.</summary>
public sealed class ModelLoaderTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("specialized-loader-").FullName;

    [Fact]
    public void A_checkpoint_of_a_built_in_config_runs_specialized_and_matches_the_generic_kernels()
    {
        BuiltInModels.Register();
        RandomCheckpoint.Write(File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json")), _folder, seed: 3);
        var options = new RunnerOptions(8, 8, new KvCacheLayout(2, 8), 16);
        int[] tokens = [151643, 9707, 11, 1879];
        var batch = new ForwardBatch(tokens, [0, 1, 2, 3], [0, 4], [0], [[0, 1]], 8, [3]);

        using LoadedModel specialized = ModelLoader.Load(_folder, new CpuBackend(), _ => options);
        Assert.Equal("Tiny", specialized.Specialization?.Name);
        Assert.True(specialized.Runner.IsSpecialized);
        float[] expected = specialized.Runner.Forward(batch).Logits.ToArray();

        // The same checkpoint through the generic model, by hand.
        ModelSpec spec = ModelConfig.Load(_folder);
        var generic = new GenericQwen2Model(spec);
        using (Checkpoint checkpoint = Checkpoint.Open(_folder))
        {
            var backend = new CpuBackend();
            foreach (ParameterPlan p in WeightBinder.Plan(generic.Weights, checkpoint).Parameters)
            {
                p.Parameter.Bind(backend.CreateWeight(p.Parameter, p.CheckpointDType, p));
            }
            using var runner = new ModelRunner<RuntimeDims>(generic, backend, options, isSpecialized: false);
            Assert.Equal(expected, runner.Forward(batch).Logits.ToArray());
        }
    }

    [Fact]
    public void A_config_no_build_has_seen_runs_on_the_generic_kernels()
    {
        string config = File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json")).Replace("\"intermediate_size\": 160", "\"intermediate_size\": 96");
        RandomCheckpoint.Write(config, _folder, seed: 3);
        using LoadedModel loaded = ModelLoader.Load(_folder, new CpuBackend(), _ => new RunnerOptions(4, 1, new KvCacheLayout(1, 8), 8));
        Assert.Null(loaded.Specialization);
        Assert.Contains("generic kernels", loaded.Description);
        Assert.Equal(151936, loaded.Runner.Forward(new ForwardBatch([1, 2], [0, 1], [0, 2], [0], [[0]], 8, [1])).Logits.Length);
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
