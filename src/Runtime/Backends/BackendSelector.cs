using Specialized.Backends.Cpu;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;

namespace Specialized.Backends;

/// <summary>Creates the backend a <c>--device</c> value names: auto, cuda or cpu.</summary>
public static class BackendSelector
{
    public static readonly string[] Devices = ["auto", "cuda", "cpu"];

    /// <summary>
    /// "auto" picks CUDA when ILGPU finds a device, else the CPU backend. On CUDA, kernels load through
    /// <paramref name="kernelCache"/> where one is given.
    /// </summary>
    public static IBackend Create(string device, PtxCache? kernelCache = null) => device.ToLowerInvariant() switch
    {
        "auto" => IlgpuBackend.CudaAvailable() ? IlgpuBackend.CreateCuda(kernelCache) : new CpuBackend(),
        "cuda" => IlgpuBackend.CreateCuda(kernelCache),
        "cpu" => new CpuBackend(),
        _ => throw new ArgumentException($"Unknown device '{device}': use auto, cuda or cpu.", nameof(device)),
    };
}
