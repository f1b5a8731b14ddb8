// Writes the PTX that ILGPU generates for the engine's main kernels, specialized for Qwen2.5-0.5B-Instruct, without a
// GPU (ILGPU's PTX backend needs none), so `ptxas -v` on the GPU machine can report registers, spills and shared memory.
// As the engine loads them on an H100: sm_90, each kernel's body opening with the grid-dependency wait (GridDependencies);
// PTX ISA 7.8 (the engine's is 8.8 on a current driver), which ptxas 11.8 also reads.
//   dotnet run --project tools/ptx -c Release -- OUT_DIR
// With CACHE=DIR the kernels go through the engine's PtxCache in DIR (a second run shows what a warm cache saves);
// with BG=1 the attention kernels compile on a second thread, as the engine's background compilation does.
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
Type T(string name) => runtime.GetType($"Specialized.Kernels.{name}", true)!;
Type ptxMma = T("PtxMma"), f32Kv = T("Float32Kv");
// Each kernel's type arguments: the dims, the instruction and the KV cache's format (float32) where it takes them.
(string Kernel, Type[] Arguments)[] kernels =
[
    ("TensorCoreGemmKernel", [T("SplitActivations"), T("PtxGemmTile"), T("WideTiles")]),
    ("TensorCoreGemmKernel", [T("RoundedActivations"), T("PtxGemmTile"), T("WideTiles")]),
    ("TensorCoreGemmKernel", [T("SplitActivations"), T("PtxGemmTile"), T("SquareTiles")]),
    ("TensorCoreGemmKernel", [T("RoundedActivations"), T("PtxGemmTile"), T("SquareTiles")]),
    ("TensorCoreGemmKernel", [T("SplitActivations"), T("PtxGemmTile"), T("TallTiles")]),
    ("TensorCoreGemmKernel", [T("RoundedActivations"), T("PtxGemmTile"), T("TallTiles")]),
    ("ActivationSplitKernel", [T("SplitActivations"), ptxMma]),
    ("LinearKernel", [T("PlainRows")]),
    ("LinearKernel", [T("NormedRotaryPairs`1").MakeGenericType(f32Kv)]),
    ("LinearKernel", [T("NormedPairs")]),
    ("ExtendAttentionKernel", [dims, f32Kv]),
    ("TensorCoreAttentionKernel", [dims, ptxMma, f32Kv]),
    ("DecodeAttentionKernel", [dims, ptxMma, f32Kv]),
    ("DecodeAttentionKernel", [dims, ptxMma, T("Bf16Kv")]),
    ("AttentionCombineKernel", [dims]),
    ("RmsNormKernel", [dims]),
    ("RopeKvKernel", [dims, f32Kv]),
];

using var context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(Specialized.Backends.Ilgpu.IlgpuBackend.KernelOptimization));
using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, null);
MethodInfo addWait = T("GridDependencies").GetMethod("TryAdd", BindingFlags.Public | BindingFlags.Static)!;
var all = System.Diagnostics.Stopwatch.StartNew();
bool bg = Environment.GetEnvironmentVariable("BG") == "1";
var cache = Environment.GetEnvironmentVariable("CACHE") is { Length: > 0 } cacheDir ? new Specialized.Kernels.PtxCache(cacheDir) : null;
var background = kernels.Where(k => k.Kernel.Contains("Attention") && k.Kernel != "ExtendAttentionKernel" && k.Kernel != "AttentionCombineKernel").ToArray();
var foreground = kernels.Except(background).ToArray();
Task? task = bg ? Task.Run(() => { foreach (var k in background) Compile(k); }) : null;
foreach (var k in foreground) Compile(k);
Console.WriteLine($"foreground: {all.ElapsedMilliseconds} ms");
if (task is null) foreach (var k in background) Compile(k); else task.Wait();
Console.WriteLine($"all: {all.ElapsedMilliseconds} ms");
if (cache is not null) Console.WriteLine($"cache: {cache.Loaded} loaded, {cache.Compiled} compiled");
void Compile((string Kernel, Type[] Arguments) k)
{
    var (name, arguments) = k;
    MethodInfo run = T(name).GetMethod("Run", BindingFlags.Public | BindingFlags.Static)!;
    if (run.IsGenericMethodDefinition) run = run.MakeGenericMethod(arguments);
    // Launch bounds where the engine loads the kernel with them (per tile shape TensorCoreGemmKernel.Specialization<TShape>(),
    // per kind of rows LinearKernel.Specialization<TRows>(): the kernel's last type argument).
    Type owner = run.DeclaringType!;
    var specialization = (KernelSpecialization?)owner.GetProperty("Specialization", BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
        ?? (KernelSpecialization?)owner.GetMethod("Specialization", BindingFlags.Public | BindingFlags.Static)?.MakeGenericMethod(arguments[^1]).Invoke(null, null)
        ?? default;
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var compiled = (PTXCompiledKernel)(cache?.Compile(backend, run, specialization) ?? backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(run), specialization));
    watch.Stop();
    // The GEMV compiles once per kind of input rows, the decode attention once per cache format: a file each.
    string file = name switch
    {
        "LinearKernel" => $"{name}.{arguments[0].Name.Split('`')[0]}",
        "DecodeAttentionKernel" => $"{name}.{arguments[2].Name}",
        "TensorCoreGemmKernel" => $"{name}.{arguments[0].Name}.{arguments[2].Name}",
        _ => name,
    };
    object?[] add = [compiled.PTXAssembly, null];
    if (!(bool)addWait.Invoke(null, add)!) throw new InvalidOperationException($"{file}: no single entry to add the grid-dependency wait to.");
    File.WriteAllText(Path.Combine(outDir, $"{file}.ptx"), (string)add[1]!);
    Console.WriteLine($"{file}: {compiled.PTXAssembly.Length:N0} characters of PTX, compiled in {watch.ElapsedMilliseconds} ms");
}
