namespace Specialized.Tests.Engine;

/// <summary>Out-of-range engine options fail before anything loads, naming the option.</summary>
public sealed class EngineOptionsValidationTests
{
    [Fact]
    public void A_cuda_graph_batch_size_below_one_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new EngineOptions { CudaGraphMaxBatchSize = 0 }.Validate());
        Assert.Contains("CudaGraphMaxBatchSize", e.Message);
    }

    [Fact]
    public void Cuda_graphs_are_on_by_default_and_can_be_turned_off()
    {
        Assert.False(new EngineOptions().DisableCudaGraph);
        new EngineOptions { DisableCudaGraph = true, CudaGraphMaxBatchSize = 1 }.Validate();
    }
}

/// <summary>What the engine picks when an option is left null.</summary>
public sealed class EngineOptionsDefaultsTests
{
    [Fact]
    public void The_cpu_kv_cache_holds_four_contexts_by_default()
    {
        using var engine = Specialized.Engine.Create(HfModels.Folder("gqa"), new EngineOptions { Device = "cpu" });
        EngineMetrics metrics = engine.GetMetrics();
        Assert.Equal(256, engine.ContextLength);
        Assert.Equal(4 * 256, metrics.TotalKvPages * metrics.PageSize);
    }
}
