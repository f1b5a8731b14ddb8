using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// A CUDA graph recorded from the launches made on one ILGPU stream, through the driver API (ILGPU 1.5.3 has no graph
/// support of its own). Replaying it costs the host one call where the recorded launches cost ~5-9 us each: a decode
/// step of a 24-layer model is ~250 launches. A graph holds its launches' arguments by value: device addresses and
/// scalars are frozen at capture, so whatever varies between replays must live in device memory at fixed addresses.
/// </summary>
internal sealed class CudaGraph : IDisposable
{
    private const int CaptureModeRelaxed = 2;

    private IntPtr _graph, _exec;

    private CudaGraph(IntPtr graph, IntPtr exec)
    {
        _graph = graph;
        _exec = exec;
    }

    /// <summary>Records what <paramref name="launches"/> enqueues on <paramref name="stream"/> (nothing runs) and instantiates it.</summary>
    public static CudaGraph Capture(AcceleratorStream stream, Action launches)
    {
        IntPtr handle = ((CudaStream)stream).StreamPtr;
        // Relaxed: no other CUDA call (another thread's, or one ILGPU makes around a launch) is refused meanwhile.
        Check(cuStreamBeginCapture_v2(handle, CaptureModeRelaxed), "cuStreamBeginCapture");
        IntPtr graph = IntPtr.Zero;
        try
        {
            launches();
        }
        finally
        {
            int ended = cuStreamEndCapture(handle, out graph);
            if (ended != 0 && graph != IntPtr.Zero) cuGraphDestroy(graph);
            Check(ended, "cuStreamEndCapture");
        }
        int instantiated = cuGraphInstantiateWithFlags(out IntPtr exec, graph, 0);
        if (instantiated != 0)
        {
            cuGraphDestroy(graph);
            Check(instantiated, "cuGraphInstantiateWithFlags");
        }
        return new CudaGraph(graph, exec);
    }

    /// <summary>Enqueues the recorded launches on <paramref name="stream"/>.</summary>
    public void Launch(AcceleratorStream stream)
    {
        ObjectDisposedException.ThrowIf(_exec == IntPtr.Zero, this);
        Check(cuGraphLaunch(_exec, ((CudaStream)stream).StreamPtr), "cuGraphLaunch");
    }

    public void Dispose()
    {
        if (_exec != IntPtr.Zero) cuGraphExecDestroy(_exec);
        if (_graph != IntPtr.Zero) cuGraphDestroy(_graph);
        _exec = _graph = IntPtr.Zero;
    }

    private static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"{call} failed with CUDA error {result}.");
    }

    private const string Driver = "libcuda.so.1";

    [DllImport(Driver)] private static extern int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [DllImport(Driver)] private static extern int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [DllImport(Driver)] private static extern int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);
    [DllImport(Driver)] private static extern int cuGraphLaunch(IntPtr exec, IntPtr stream);
    [DllImport(Driver)] private static extern int cuGraphExecDestroy(IntPtr exec);
    [DllImport(Driver)] private static extern int cuGraphDestroy(IntPtr graph);
}
