using System.Buffers.Binary;
using Specialized.Backends;
using Specialized.Backends.Ilgpu;

namespace Specialized.Tests.Engine;

/// <summary>Engine creation reports its stages in order, and the weight bytes it reports add up to the checkpoint's.</summary>
public sealed class EngineLoadProgressTests(TinyTextModel model) : IClassFixture<TinyTextModel>
{
    /// <summary>Keeps every report on the reporting thread, unlike <see cref="Progress{T}"/>, which posts them.</summary>
    private sealed class Recorder : IProgress<EngineLoadProgress>
    {
        public List<EngineLoadProgress> Reports { get; } = [];

        public void Report(EngineLoadProgress value) => Reports.Add(value);

        public EngineLoadStage[] Stages() => Reports.Select(r => r.Stage).Distinct().ToArray();
    }

    [Fact]
    public void Creating_an_engine_on_the_cpu_reports_config_device_weights_kv_cache_then_ready()
    {
        var progress = new Recorder();
        using var engine = Specialized.Engine.Create(model.Folder, new EngineOptions { Device = "cpu", Progress = progress });

        Assert.Equal([EngineLoadStage.ReadingConfig, EngineLoadStage.StartingDevice, EngineLoadStage.LoadingWeights, EngineLoadStage.AllocatingKvCache, EngineLoadStage.Ready],
            progress.Stages());
        // Each stage arrives once, in one run: no stage comes back after a later one started.
        Assert.Equal(progress.Reports.Select(r => r.Stage).Order(), progress.Reports.Select(r => r.Stage));

        var weights = progress.Reports.Where(r => r.Stage == EngineLoadStage.LoadingWeights).ToList();
        long total = TensorBytes(Path.Combine(model.Folder, "model.safetensors"));
        Assert.All(weights, r => Assert.Equal(total, r.BytesTotal));
        Assert.Equal(0, weights[0].BytesDone);
        Assert.Equal(total, weights[^1].BytesDone);
        Assert.True(weights.Zip(weights.Skip(1)).All(p => p.First.BytesDone < p.Second.BytesDone), "bytes done must grow with each weight");
    }

    [Fact]
    public void An_ilgpu_backend_reports_kernel_compilation_between_weights_and_kv_cache()
    {
        var progress = new Recorder();
        using IlgpuBackend backend = IlgpuBackend.CreateCpuSimulator();
        using LoadedModel loaded = ModelLoader.Load(HfModels.Folder("gqa"), backend, _ => new RunnerOptions(8, 1, new KvCacheLayout(2, 4), 8), progress);

        Assert.Equal([EngineLoadStage.LoadingWeights, EngineLoadStage.CompilingKernels, EngineLoadStage.AllocatingKvCache], progress.Stages());
    }

    [Fact]
    public void A_bad_checkpoint_folder_reports_nothing_past_reading_the_config()
    {
        var progress = new Recorder();
        string missing = Path.Combine(model.Folder, "no-such-model");
        Assert.ThrowsAny<Exception>(() => Specialized.Engine.Create(missing, new EngineOptions { Device = "cpu", Progress = progress }));
        Assert.Equal([EngineLoadStage.ReadingConfig], progress.Stages());
    }

    /// <summary>Every tensor's bytes: the file less its 8-byte length prefix and JSON header (the model uses every tensor).</summary>
    private static long TensorBytes(string safetensors)
    {
        using FileStream file = File.OpenRead(safetensors);
        Span<byte> prefix = stackalloc byte[8];
        file.ReadExactly(prefix);
        return file.Length - 8 - (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix);
    }
}
