using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Specialized.Kernels;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// A backend on an ILGPU accelerator: CUDA on an NVIDIA GPU, or ILGPU's CPU accelerator, which simulates every GPU
/// thread and so serves only to test the same kernels on tiny shapes where no GPU exists.
/// </summary>
public sealed class IlgpuBackend : IBackend
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly KernelLoader _kernelLoader;
    private readonly AcceleratorStream _stream;
    private readonly List<IDisposable> _kernels = [];
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int> _argMax;
    private MemoryBuffer1D<int, Stride1D.Dense>? _argMaxResult;

    private IlgpuBackend(Context context, Accelerator accelerator, PtxCache? kernelCache = null)
    {
        _context = context;
        _accelerator = accelerator;
        _kernelLoader = new KernelLoader(accelerator, kernelCache);
        _stream = accelerator.CreateStream();
        _argMax = _kernelLoader.LoadKernel<ArrayView<float>, ArrayView<int>, int>(Specialized.Kernels.ArgMaxKernel.Run);
    }

    /// <summary>
    /// How hard ILGPU optimizes the kernels' IR before emitting PTX. O2 unrolls the constant-trip loops of the
    /// tensor-core GEMM and attention, keeping their fragments in registers: under O1 the prefill GEMMs ran ~15x
    /// slower on an H200 (ncu: gate_up at 2,112 tokens 9.9 ms, 3.7 TFLOP/s). Benchmarks and tools/ptx use the same level.
    /// </summary>
    public const OptimizationLevel KernelOptimization = OptimizationLevel.O2;

    /// <summary>Whether ILGPU finds a CUDA device on this machine.</summary>
    public static bool CudaAvailable()
    {
        try
        {
            using Context context = Context.Create(b => b.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or CudaException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where <c>SPECIALIZED_PROFILE_OPS</c> names a file, every runner's kernels are timed operation by operation on the
    /// device (<see cref="ProfiledKernels{TDims}"/>, launch by launch, no CUDA graphs) and the table goes to that file
    /// when the runner is disposed.
    /// </summary>
    public const string ProfileVariable = "SPECIALIZED_PROFILE_OPS";

    private static string? ProfilePath => Environment.GetEnvironmentVariable(ProfileVariable) is { Length: > 0 } path ? path : null;

    /// <summary>The first CUDA device; its kernels load through <paramref name="kernelCache"/> where one is given (else each compiles).</summary>
    public static IlgpuBackend CreateCuda(PtxCache? kernelCache = null)
    {
        Context context = Context.Create(b =>
        {
            b.Cuda().EnableAlgorithms().Optimize(KernelOptimization);
            if (ProfilePath is not null) b.Profiling();
        });
        if (context.GetCudaDevices().Count == 0)
        {
            context.Dispose();
            throw new InvalidOperationException("No CUDA device was found; use --device cpu.");
        }
        return new IlgpuBackend(context, context.GetCudaDevice(0).CreateAccelerator(context), kernelCache);
    }

    /// <summary>
    /// ILGPU's CPU accelerator with 32-lane warps, as the kernels assume: for tests on tiny shapes. One warp a group
    /// keeps the simulation fast; 8 lets the 256-thread GEMM run (it is skipped on smaller groups). More multiprocessors
    /// raise the groups attention aims for (two a multiprocessor), so a test can make it split its keys.
    /// </summary>
    public static IlgpuBackend CreateCpuSimulator(int warpsPerGroup = 1, int multiprocessors = 1)
    {
        Context context = Context.Create(b => b.CPU(new CPUDevice(32, warpsPerGroup, multiprocessors)).EnableAlgorithms().Optimize(KernelOptimization));
        return new IlgpuBackend(context, context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel));
    }

    public string Name => _accelerator.AcceleratorType == AcceleratorType.Cuda ? "cuda" : "ilgpu-cpu";

    public string Device => _accelerator.Name;

    public long? MemoryBytes => _accelerator.AcceleratorType == AcceleratorType.Cuda ? _accelerator.MemorySize : null;

    public Tensor CreateWeight(Parameter parameter, DType preferred, IWeightSource source)
    {
        int[] shape = [.. parameter.Shape];
        if (shape.Length == 2)
        {
            // Matrices go to the GPU as bfloat16 whatever the checkpoint holds: the kernels stream bf16. A bf16
            // checkpoint's single tensors go straight from the mapped file (no host array to allocate, fill and copy:
            // ~0.5 GB of the 0.5B model's 1 GB; qkv and gate_up stack several).
            var t = IlgpuTensor.BFloat16(_accelerator, shape);
            if (source.TryGetStored(DType.BFloat16, out ReadOnlySpan<byte> stored))
            {
                ((ArrayView1D<ushort, Stride1D.Dense>)t.B16).CopyFromCPU(_stream, MemoryMarshal.Cast<byte, ushort>(stored));
            }
            else
            {
                var host = new ushort[parameter.ElementCount];
                source.WriteBFloat16(host);
                t.B16.CopyFromCPU(_stream, host);
            }
            _stream.Synchronize();
            return t;
        }
        var values = new float[parameter.ElementCount];
        source.WriteFloat32(values);
        var f = IlgpuTensor.Float32(_accelerator, shape);
        f.F32.CopyFromCPU(_stream, values);
        _stream.Synchronize();
        return f;
    }

    public Tensor CreateActivations(int rows, int columns) => IlgpuTensor.Float32(_accelerator, [rows, columns]);

    public IQwen2Kernels<TDims> CreateKernels<TDims>(TDims dims, RunnerOptions options, IProgress<EngineLoadProgress>? progress = null) where TDims : struct, IQwen2Dims
    {
        var kernels = new IlgpuKernels<TDims>(_kernelLoader, _stream, dims, options, progress);
        _kernels.Add(kernels);
        if (ProfilePath is string path && _context.Properties.EnableProfiling)
        {
            return new ProfiledKernels<TDims>(kernels, new StreamClock(_stream), path);
        }
        return kernels;
    }

    public void CopyRows(Tensor source, int rows, Span<float> destination)
    {
        IlgpuTensor t = IlgpuTensor.Of(source);
        int count = rows * t.RowLength;
        t.F32.SubView(0, count).CopyToCPU(_stream, destination[..count]);
        _stream.Synchronize();
    }

    public void ArgMaxRows(Tensor source, int rows, Span<int> destination)
    {
        if (rows == 0) return;
        IlgpuTensor t = IlgpuTensor.Of(source);
        if (_argMaxResult is null || _argMaxResult.Length < rows)
        {
            _argMaxResult?.Dispose();
            _argMaxResult = _accelerator.Allocate1D<int>(Math.Max(rows, 256));
        }
        int group = Math.Min(Specialized.Kernels.ArgMaxKernel.GroupSize, _accelerator.MaxNumThreadsPerGroup);
        _argMax(_stream, new KernelConfig(rows, group), t.F32, _argMaxResult.View, t.RowLength);
        _argMaxResult.View.SubView(0, rows).CopyToCPU(_stream, destination[..rows]);
        _stream.Synchronize();
    }

    /// <summary>Marks are profiling markers (CUDA events) on the backend's stream.</summary>
    private sealed class StreamClock(AcceleratorStream stream) : IDeviceClock
    {
        public object Mark() => stream.AddProfilingMarker();

        public double Milliseconds(object start, object end) => (((ProfilingMarker)end) - (ProfilingMarker)start).TotalMilliseconds;

        public void Release(object mark) => ((ProfilingMarker)mark).Dispose();
    }

    public void Dispose()
    {
        _argMaxResult?.Dispose();
        foreach (IDisposable k in _kernels) k.Dispose();
        _stream.Dispose();
        _accelerator.Dispose();
        _context.Dispose();
    }
}
