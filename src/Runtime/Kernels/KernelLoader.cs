using System.Diagnostics;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// Loads explicitly grouped kernels on one accelerator, as ILGPU's <c>LoadKernel</c> extensions do, through a
/// <see cref="PtxCache"/> on CUDA where it has one: the engine's kernels compile once per build of the code and machine
/// kind, not once per process. Elsewhere (ILGPU's CPU accelerator, or no cache) ILGPU compiles each as usual.
/// </summary>
public sealed class KernelLoader
{
    private readonly PtxCache? _cache;
    private long _compileTicks;

    public KernelLoader(Accelerator accelerator, PtxCache? cache = null)
    {
        Accelerator = accelerator;
        _cache = accelerator is CudaAccelerator ? cache : null;
    }

    public Accelerator Accelerator { get; }

    /// <summary>The cache kernels load through (null where ILGPU compiles each: not CUDA, or no cache given).</summary>
    public PtxCache? Cache => _cache;

    /// <summary>Time spent compiling or loading kernels' code (not making their modules on the device), over all threads.</summary>
    public TimeSpan CompileTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _compileTicks));

    /// <summary>The kernel <paramref name="method"/> (static, explicitly grouped) as a launcher of type <typeparamref name="TDelegate"/>.</summary>
    public TDelegate Load<TDelegate>(MethodInfo method, KernelSpecialization specialization) where TDelegate : Delegate
    {
        long start = Stopwatch.GetTimestamp();
        if (_cache is null || Accelerator is not CudaAccelerator cuda)   // ILGPU's own path, as its extensions take it
        {
            var kernel = Accelerator.LoadKernel(method, specialization);
            Interlocked.Add(ref _compileTicks, Stopwatch.GetTimestamp() - start);
            return kernel.CreateLauncherDelegate<TDelegate>();
        }
        var compiled = _cache.Compile(cuda.Backend, method, specialization);
        Interlocked.Add(ref _compileTicks, Stopwatch.GetTimestamp() - start);
        return Accelerator.LoadKernel(compiled).CreateLauncherDelegate<TDelegate>();
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
