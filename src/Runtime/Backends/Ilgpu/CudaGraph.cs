using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// A CUDA graph recorded from the launches made on one ILGPU stream, through the driver API (ILGPU 1.5.3 has no graph
/// support of its own). Replaying it costs the host one call where the recorded launches cost ~5-9 us each: a decode
/// step of a 24-layer model is ~250 launches. A graph holds its launches' arguments by value: device addresses and
/// scalars are frozen at capture, so whatever varies between replays must live in device memory at fixed addresses.
/// <para>
/// Where the recorded kernels wait for their grid dependencies (<see cref="Kernels.GridDependencies"/>), each edge from
/// one kernel into such a kernel becomes programmatic: the second may launch once every group of the first is running,
/// and waits on the device for it to complete, so consecutive kernels' launches overlap. Where the driver refuses the
/// programmatic graph, the plain one is used.
/// </para>
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

    /// <summary>
    /// Records what <paramref name="launches"/> enqueues on <paramref name="stream"/> (nothing runs) and instantiates it,
    /// the edges into kernels whose function <paramref name="waits"/> says begins with the grid-dependency wait made programmatic.
    /// </summary>
    public static CudaGraph Capture(AcceleratorStream stream, Action launches, Func<IntPtr, bool>? waits = null)
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
        if (waits is not null && cuGraphClone(out IntPtr plain, graph) == 0)
        {
            // The clone keeps the plain edges for a driver that refuses the programmatic ones, at any point.
            if (TryMakeProgrammatic(graph, waits) && cuGraphInstantiateWithFlags(out IntPtr programmatic, graph, 0) == 0)
            {
                cuGraphDestroy(plain);
                return new CudaGraph(graph, programmatic);
            }
            cuGraphDestroy(graph);
            graph = plain;
        }
        int instantiated = cuGraphInstantiateWithFlags(out IntPtr exec, graph, 0);
        if (instantiated != 0)
        {
            cuGraphDestroy(graph);
            Check(instantiated, "cuGraphInstantiateWithFlags");
        }
        return new CudaGraph(graph, exec);
    }

    /// <summary>
    /// Replaces each plain edge from a kernel node into a kernel node whose function <paramref name="waits"/> with a
    /// programmatic one, from the first kernel's programmatic port. False where there was none to replace or the driver
    /// refused a call (the graph may then be half done: the caller drops it).
    /// </summary>
    private static bool TryMakeProgrammatic(IntPtr graph, Func<IntPtr, bool> waits)
    {
        try
        {
            return MakeProgrammatic(graph, waits);
        }
        catch (EntryPointNotFoundException)   // a driver before CUDA 12.3 has no edge data
        {
            return false;
        }
    }

    private static bool MakeProgrammatic(IntPtr graph, Func<IntPtr, bool> waits)
    {
        nuint count = 0;
        if (cuGraphGetEdges_v2(graph, null, null, null, ref count) != 0 || count == 0) return false;
        var from = new IntPtr[count];
        var to = new IntPtr[count];
        var edges = new EdgeData[count];
        if (cuGraphGetEdges_v2(graph, from, to, edges, ref count) != 0) return false;
        bool Kernel(IntPtr node) => cuGraphNodeGetType(node, out int type) == 0 && type == NodeTypeKernel;
        int[] chosen = Enumerable.Range(0, (int)count).Where(i => edges[i].Type == DependencyDefault && Kernel(from[i]) && Kernel(to[i])
            && cuGraphKernelNodeGetParams_v2(to[i], out KernelNodeParams p) == 0 && waits(p.Function)).ToArray();
        EdgeData[] programmatic = [new EdgeData { FromPort = PortProgrammatic, Type = DependencyProgrammatic }];
        foreach (int i in chosen)
        {
            IntPtr[] f = [from[i]], t = [to[i]];
            if (cuGraphRemoveDependencies_v2(graph, f, t, [edges[i]], 1) != 0 || cuGraphAddDependencies_v2(graph, f, t, programmatic, 1) != 0) return false;
        }
        return chosen.Length > 0;
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
    [DllImport(Driver)] private static extern int cuGraphClone(out IntPtr clone, IntPtr graph);
    [DllImport(Driver)] private static extern int cuGraphGetEdges_v2(IntPtr graph, IntPtr[]? from, IntPtr[]? to, [In, Out] EdgeData[]? edges, ref nuint count);
    [DllImport(Driver)] private static extern int cuGraphNodeGetType(IntPtr node, out int type);
    [DllImport(Driver)] private static extern int cuGraphKernelNodeGetParams_v2(IntPtr node, out KernelNodeParams parameters);
    [DllImport(Driver)] private static extern int cuGraphRemoveDependencies_v2(IntPtr graph, IntPtr[] from, IntPtr[] to, EdgeData[] edges, nuint count);
    [DllImport(Driver)] private static extern int cuGraphAddDependencies_v2(IntPtr graph, IntPtr[] from, IntPtr[] to, EdgeData[] edges, nuint count);

    private const int NodeTypeKernel = 0;                 // CU_GRAPH_NODE_TYPE_KERNEL
    private const byte DependencyDefault = 0;             // CU_GRAPH_DEPENDENCY_TYPE_DEFAULT
    private const byte DependencyProgrammatic = 1;        // CU_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC
    private const byte PortProgrammatic = 1;              // CU_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC

    /// <summary>CUgraphEdgeData (CUDA 12.3): the ports and type of an edge.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 8)]
    private struct EdgeData
    {
        public byte FromPort, ToPort, Type;
    }

    /// <summary>CUDA_KERNEL_NODE_PARAMS_v2: of which only the function is read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct KernelNodeParams
    {
        public IntPtr Function;
        public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedMemoryBytes;
        public IntPtr KernelParameters, Extra, Kernel, Context;
    }
}
