using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;

namespace Specialized.Kernels;

/// <summary>
/// Makes ILGPU kernels from PTX text: PTXCompiledKernel's constructor and a compiled kernel's entry point (which holds
/// its shared memory) are internal to ILGPU (1.5.3, pinned), so this reaches them by reflection. The PTX cache hands
/// ILGPU PTX stored earlier, the kernel loader PTX it has added to; where a later ILGPU lacks them
/// (<see cref="Supported"/> false) both leave ILGPU's kernels as they are.
/// </summary>
internal static class PtxKernels
{
    private static readonly ConstructorInfo? Constructor = typeof(PTXCompiledKernel).GetConstructor(
        BindingFlags.Instance | BindingFlags.NonPublic, [typeof(Context), typeof(EntryPoint), typeof(CompiledKernel.KernelInfo), typeof(string)]);

    private static readonly PropertyInfo? EntryPointProperty = typeof(CompiledKernel).GetProperty("EntryPoint", BindingFlags.Instance | BindingFlags.NonPublic);

    public static bool Supported => Constructor is not null && EntryPointProperty?.PropertyType == typeof(EntryPoint);

    /// <summary>The kernel's entry point: its method, parameters, launch bounds and shared memory.</summary>
    public static EntryPoint EntryPointOf(CompiledKernel kernel) => (EntryPoint)EntryPointProperty!.GetValue(kernel)!;

    /// <summary>A kernel of <paramref name="entryPoint"/> whose code is <paramref name="ptx"/>.</summary>
    public static PTXCompiledKernel Make(Context context, EntryPoint entryPoint, string ptx) =>
        (PTXCompiledKernel)Constructor!.Invoke([context, entryPoint, null, ptx]);
}
