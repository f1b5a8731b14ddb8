using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Benchmarks.Gpu;

/// <summary>The first CUDA device as ILGPU sees it, for suites that launch kernels themselves.</summary>
internal sealed class CudaDevice : IDisposable
{
    public CudaDevice()
    {
        Context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(Specialized.Backends.Ilgpu.IlgpuBackend.KernelOptimization));
        if (Context.GetCudaDevices().Count == 0) throw new InvalidOperationException("These benchmarks need a CUDA device.");
        Accelerator = Context.GetCudaDevice(0).CreateAccelerator(Context);
        Console.WriteLine($"// {Accelerator.Name}");
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
