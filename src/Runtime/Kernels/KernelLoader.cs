using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// Loads explicitly grouped kernels on one accelerator, as ILGPU's <c>LoadKernel</c> extensions do. On CUDA each kernel's
/// PTX comes through a <see cref="PtxCache"/> where it has one (the engine's kernels compile once per build of the code
/// and kind of GPU, not once per process), and on sm_90 begins with the wait for its grid dependencies
/// (<see cref="GridDependencies"/>), so that the decode graphs can launch it early. Elsewhere (ILGPU's CPU accelerator)
/// ILGPU compiles each as usual.
/// </summary>
public sealed class KernelLoader
{
    private readonly PtxCache? _cache;
    private readonly bool _gridDependencies;
    private readonly HashSet<IntPtr> _waiting = [];

    public KernelLoader(Accelerator accelerator, PtxCache? cache = null)
    {
        Accelerator = accelerator;
        var cuda = accelerator as CudaAccelerator;
        _cache = cuda is null ? null : cache;
        _gridDependencies = cuda is not null && PtxKernels.Supported && GridDependencies.Supported(cuda.Backend);
    }

    public Accelerator Accelerator { get; }

    /// <summary>The cache kernels load through (null where ILGPU compiles each: not CUDA, or no cache given).</summary>
    public PtxCache? Cache => _cache;

    /// <summary>Whether the CUDA function <paramref name="function"/> is a kernel loaded here that begins with the wait for its grid dependencies.</summary>
    public bool WaitsForGridDependencies(IntPtr function)
    {
        lock (_waiting) return _waiting.Contains(function);
    }

    /// <summary>The kernel <paramref name="method"/> (static, explicitly grouped) as a launcher of type <typeparamref name="TDelegate"/>.</summary>
    public TDelegate Load<TDelegate>(MethodInfo method, KernelSpecialization specialization) where TDelegate : Delegate
    {
        if (Accelerator is not CudaAccelerator cuda)   // ILGPU's own path, as its extensions take it
        {
            return Accelerator.LoadKernel(method, specialization).CreateLauncherDelegate<TDelegate>();
        }
        var compiled = (PTXCompiledKernel)(_cache?.Compile(cuda.Backend, method, specialization)
            ?? cuda.Backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), specialization));
        string ptx = compiled.PTXAssembly;
        bool waits = _gridDependencies && GridDependencies.TryAdd(compiled.PTXAssembly, out ptx);
        if (waits) compiled = PtxKernels.Make(compiled.Context, PtxKernels.EntryPointOf(compiled), ptx);
        var loaded = (CudaKernel)Accelerator.LoadKernel(compiled);
        if (waits)
        {
            lock (_waiting) _waiting.Add(loaded.FunctionPtr);
        }
        return loaded.CreateLauncherDelegate<TDelegate>();
    }

    // ILGPU's LoadKernel extensions (KernelLoaders) arity by arity: the kernels here take 3 to 14 arguments.
    public Action<AcceleratorStream, KernelConfig, T1, T2, T3> LoadKernel<T1, T2, T3>(Action<T1, T2, T3> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4> LoadKernel<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5> LoadKernel<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6> LoadKernel<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7> LoadKernel<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct where T12 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct where T12 : struct where T13 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>>(kernel.Method, specialization);

    public Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> LoadKernel<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14> kernel, KernelSpecialization specialization = default)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct where T12 : struct where T13 : struct where T14 : struct =>
        Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14>>(kernel.Method, specialization);
}
