using System.Text.RegularExpressions;
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
/// only into a kernel known to begin with the wait. <c>SPECIALIZED_PROGRAMMATIC_LAUNCH=off</c> loads the kernels as ILGPU
/// wrote them, so no edge becomes programmatic (to compare).
/// <para>
/// ILGPU targets the lowest architecture its features need, at most sm_80 (<c>CudaCapabilityContext.TargetArchitecture</c>),
/// even on an H100, and <c>griddepcontrol</c> needs a <c>.target</c> of sm_90: the prologue comes with that target.
/// PTX for sm_80 is PTX for sm_90, and the driver compiles it for the device's own architecture either way.
/// </para>
/// </summary>
internal static partial class GridDependencies
{
    public const string Prologue = "\tgriddepcontrol.wait;\n\tgriddepcontrol.launch_dependents;\n";

    /// <summary>The PTX target the prologue needs.</summary>
    public const string Target = ".target sm_90";

    /// <summary>The environment variable that, set to <c>off</c>, leaves the prologue out.</summary>
    public const string Variable = "SPECIALIZED_PROGRAMMATIC_LAUNCH";

    /// <summary>
    /// Whether kernels compiled by <paramref name="backend"/> get the prologue: a device of sm_90 or later, PTX ISA 7.8
    /// or later, and not switched off.
    /// </summary>
    public static bool Supported(PTXBackend backend) =>
        backend.Architecture.Major >= 9 && backend.InstructionSet >= CudaInstructionSet.ISA_78
        && !string.Equals(Environment.GetEnvironmentVariable(Variable), "off", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <paramref name="ptx"/> (one ILGPU kernel: a <c>.target</c> below sm_90, or sm_90 itself; its <c>.entry</c>, the
    /// parameter list and any launch bounds, then the body's opening brace on a line of its own) with <see cref="Prologue"/>
    /// as the body's first statements and <see cref="Target"/>; false, and <paramref name="ptx"/> unchanged, where it is
    /// not such a kernel.
    /// </summary>
    public static bool TryAdd(string ptx, out string withPrologue)
    {
        withPrologue = ptx;
        Match target = TargetLine().Match(ptx);
        if (!target.Success || int.Parse(target.Groups[1].ValueSpan) > 90) return false;
        int entry = ptx.IndexOf(".entry ", StringComparison.Ordinal);
        if (entry < target.Index || ptx.IndexOf(".entry ", entry + 1, StringComparison.Ordinal) >= 0) return false;
        int body = ptx.IndexOf("\n{\n", entry, StringComparison.Ordinal);
        if (body < 0) return false;
        body += 3;
        int afterTarget = target.Index + target.Length;
        withPrologue = ptx[..target.Index] + Target + ptx[afterTarget..body] + Prologue + ptx[body..];
        return true;
    }

    /// <summary>ILGPU's <c>.target sm_NN</c> line (without a debug flag).</summary>
    [GeneratedRegex(@"^\.target sm_(\d+)$", RegexOptions.Multiline)]
    private static partial Regex TargetLine();
}
