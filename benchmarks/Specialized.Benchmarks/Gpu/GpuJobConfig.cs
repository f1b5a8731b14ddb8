using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Specialized.Benchmarks.Gpu;

/// <summary>
/// GPU suites run in process (the GPU machine has the .NET runtime but no SDK to build BenchmarkDotNet's child
/// project) with few, short iterations: GPU times are steady, and device time there is scarce.
/// </summary>
internal class GpuJobConfig : ManualConfig
{
    public GpuJobConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(200)));
    }
}
