using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// Programmatic dependent launch (sm_90): a kernel that a CUDA graph's programmatic edge makes depend on the one before
/// may be launched while that one still runs, and waits in <c>griddepcontrol.wait</c> until it has completed and its
/// writes are visible. Every kernel loaded on such a GPU begins with that wait, before it touches memory (so it can
/// neither read what its predecessor has not written nor overwrite what it still reads), and then
/// <c>griddepcontrol.launch_dependents</c>, which lets its own successor launch as soon as all its groups are running.
/// A decode step's graph then overlaps each kernel's launch and ramp with the kernel before. Launched any other way
/// (no programmatic edge into it) the wait returns at once. <see cref="Ilgpu.CudaGraph"/> makes an edge programmatic
/// only into a kernel known to begin with the wait.
/// </summary>
internal static class GridDependencies
{
    public const string Prologue = "\tgriddepcontrol.wait;\n\tgriddepcontrol.launch_dependents;\n";

    /// <summary>Whether kernels compiled by <paramref name="backend"/> can wait: sm_90 or later, PTX ISA 7.8 or later.</summary>
    public static bool Supported(PTXBackend backend) =>
        backend.Architecture.Major >= 9 && backend.InstructionSet >= CudaInstructionSet.ISA_78;

    /// <summary>
    /// <paramref name="ptx"/> (one ILGPU kernel: its <c>.entry</c>, the parameter list and any launch bounds, then the
    /// body's opening brace on a line of its own) with <see cref="Prologue"/> as the body's first statements; false where
    /// it has no such entry.
    /// </summary>
    public static bool TryAdd(string ptx, out string withPrologue)
    {
        withPrologue = ptx;
        int entry = ptx.IndexOf(".entry ", StringComparison.Ordinal);
        if (entry < 0 || ptx.IndexOf(".entry ", entry + 1, StringComparison.Ordinal) >= 0) return false;
        int body = ptx.IndexOf("\n{\n", entry, StringComparison.Ordinal);
        if (body < 0) return false;
        body += 3;
        withPrologue = string.Concat(ptx.AsSpan(0, body), Prologue, ptx.AsSpan(body));
        return true;
    }
}
