using Specialized.Backends.Cpu;
using Specialized.Backends.Ilgpu;

namespace Specialized.Backends;

/// <summary>Creates the backend a <c>--device</c> value names: auto, cuda or cpu.</summary>
public static class BackendSelector
{
    public static readonly string[] Devices = ["auto", "cuda", "cpu"];

    /// <summary>"auto" picks CUDA when ILGPU finds a device, else the CPU backend.</summary>
    public static IBackend Create(string device) => device.ToLowerInvariant() switch
    {
        "auto" => IlgpuBackend.CudaAvailable() ? IlgpuBackend.CreateCuda() : new CpuBackend(),
        "cuda" => IlgpuBackend.CreateCuda(),
        "cpu" => new CpuBackend(),
        _ => throw new ArgumentException($"Unknown device '{device}': use auto, cuda or cpu.", nameof(device)),
    };
}
