// Writes the PTX that ILGPU generates for the engine's main kernels, specialized for Qwen2.5-0.5B-Instruct, without a
// GPU (ILGPU's PTX backend needs none), so `ptxas -v` on the GPU machine can report registers, spills and shared memory.
//   dotnet run --project tools/ptx -c Release -- OUT_DIR
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Specialized.Models;

string outDir = args.Length > 0 ? args[0] : "ptx";
Directory.CreateDirectory(outDir);
Assembly runtime = typeof(Specialized.Engine).Assembly;
Type dims = typeof(Qwen2_5_0_5B_Instruct.Dims);
Type ptxMma = runtime.GetType("Specialized.Kernels.PtxMma", true)!;
(string Kernel, Type? Argument)[] kernels =
[
    ("TensorCoreGemmKernel", runtime.GetType("Specialized.Kernels.SplitActivations", true)),
    ("ActivationSplitKernel", runtime.GetType("Specialized.Kernels.SplitActivations", true)),
    ("LinearKernel", runtime.GetType("Specialized.Kernels.PlainRows", true)),
    ("LinearKernel", runtime.GetType("Specialized.Kernels.NormedRows", true)),
    ("LinearKernel", runtime.GetType("Specialized.Kernels.NormedPairs", true)),
    ("ExtendAttentionKernel", dims),
    ("TensorCoreAttentionKernel", dims),
    ("DecodeAttentionKernel", dims),
    ("AttentionCombineKernel", dims),
    ("RmsNormKernel", dims),
    ("RopeKvKernel", dims),
];

using var context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(Specialized.Backends.Ilgpu.IlgpuBackend.KernelOptimization));
using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_80, null);
foreach ((string name, Type? argument) in kernels)
{
    MethodInfo run = runtime.GetType($"Specialized.Kernels.{name}", true)!.GetMethod("Run", BindingFlags.Public | BindingFlags.Static)!;
    // The tensor-core kernels take the instruction as a second type argument: the real one here.
    if (run.IsGenericMethodDefinition)
    {
        run = run.GetGenericArguments().Length == 2 ? run.MakeGenericMethod(argument!, ptxMma) : run.MakeGenericMethod(argument!);
    }
    // Launch bounds where the engine loads the kernel with them (TensorCoreGemmKernel.Specialization, and per kind of rows
    // LinearKernel.Specialization<TRows>()).
    Type owner = run.DeclaringType!;
    var specialization = (KernelSpecialization?)owner.GetProperty("Specialization", BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
        ?? (KernelSpecialization?)owner.GetMethod("Specialization", BindingFlags.Public | BindingFlags.Static)?.MakeGenericMethod(argument!).Invoke(null, null)
        ?? default;
    var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(run), specialization);
    // The GEMV compiles once per kind of input rows: a file each.
    string file = name == "LinearKernel" ? $"{name}.{argument!.Name}" : name;
    File.WriteAllText(Path.Combine(outDir, $"{file}.ptx"), compiled.PTXAssembly);
    Console.WriteLine($"{file}: {compiled.PTXAssembly.Length:N0} characters of PTX");
}
