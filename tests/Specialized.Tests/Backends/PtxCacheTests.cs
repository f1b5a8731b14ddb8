using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The PTX cache with ILGPU's PTX backend, which needs no GPU: a kernel stored by one process's cache comes back in the
/// next as the kernel ILGPU compiles (the same PTX, name, parameters, launch bounds and shared memory), under a key that
/// changes with what the PTX follows from; a damaged entry is compiled again and rewritten; a folder that cannot be
/// written costs only the saving. Loading the PTX into a CUDA module needs a GPU: the device scripts' runs do that.
/// </summary>
public sealed class PtxCacheTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(IlgpuBackend.KernelOptimization));
    private readonly PTXBackend _backend;
    private readonly TempFolder _temp = new();

    private static readonly MethodInfo ArgMax = typeof(ArgMaxKernel).GetMethod(nameof(ArgMaxKernel.Run))!;

    public PtxCacheTests()
    {
        _backend = Backend(CudaArchitecture.SM_80);
    }

    private PTXBackend Backend(CudaArchitecture architecture) =>
        new(_context, new CudaCapabilityContext(architecture), architecture, CudaInstructionSet.ISA_80, null);

    [Fact]
    public void ILGPU_still_lets_a_kernel_be_made_from_stored_PTX()
    {
        // The cache reaches into two internals of the pinned ILGPU; an update that moved them would silently turn it off.
        Assert.True(PtxCache.Supported);
    }

    [Fact]
    public void A_stored_kernel_comes_back_as_the_kernel_ILGPU_compiles()
    {
        var specialization = new KernelSpecialization(ArgMaxKernel.GroupSize, null);
        var first = new PtxCache(_temp.Path);
        var compiled = (PTXCompiledKernel)first.Compile(_backend, ArgMax, specialization);
        Assert.Equal((0, 1), (first.Loaded, first.Compiled));
        Assert.Single(Directory.GetFiles(_temp.Path, "*.ptx"));

        var next = new PtxCache(_temp.Path);   // as a later process would
        var loaded = (PTXCompiledKernel)next.Compile(_backend, ArgMax, specialization);
        Assert.Equal((1, 0), (next.Loaded, next.Compiled));

        var fresh = (PTXCompiledKernel)_backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(ArgMax), specialization);
        Assert.Equal(compiled.PTXAssembly, loaded.PTXAssembly);
        Assert.Equal(Renumbered(fresh.PTXAssembly), Renumbered(loaded.PTXAssembly));
        AssertSameEntry(fresh, loaded);
        Assert.True(SharedMemory(loaded).StaticSize > 0, "ArgMax's two arrays are static shared memory");
    }

    [Fact]
    public void Dynamic_shared_memory_and_launch_bounds_survive_the_round_trip()
    {
        MethodInfo gemm = typeof(TensorCoreGemmKernel).GetMethod(nameof(TensorCoreGemmKernel.Run))!
            .MakeGenericMethod(typeof(RoundedActivations), typeof(PtxGemmTile), typeof(SquareTiles));
        var specialization = TensorCoreGemmKernel.Specialization<SquareTiles>();
        var compiled = new PtxCache(_temp.Path).Compile(_backend, gemm, specialization);
        var loaded = new PtxCache(_temp.Path).Compile(_backend, gemm, specialization);

        AssertSameEntry(compiled, loaded);
        Assert.True(SharedMemory(loaded).HasDynamicMemory);
        Assert.Equal(specialization.MaxNumThreadsPerGroup, loaded.Specialization.MaxNumThreadsPerGroup);
    }

    [Fact]
    public void The_key_changes_with_launch_bounds_architecture_kernel_and_type_arguments()
    {
        MethodInfo norm = typeof(RmsNormKernel).GetMethod(nameof(RmsNormKernel.Run))!;
        string Key(PTXBackend backend, MethodInfo method, int? bounds = null) => PtxCache.Key(backend, method, new KernelSpecialization(bounds, null));
        using PTXBackend sm90 = Backend(CudaArchitecture.SM_90);
        string[] keys =
        [
            Key(_backend, ArgMax),
            Key(_backend, ArgMax, 256),
            Key(sm90, ArgMax),
            Key(_backend, norm.MakeGenericMethod(typeof(Specialized.Models.RuntimeDims))),
            Key(_backend, norm.MakeGenericMethod(typeof(Specialized.Models.Qwen2_5_0_5B_Instruct.Dims))),
        ];
        Assert.Equal(keys.Length, keys.Distinct().Count());
        Assert.Equal(Key(_backend, ArgMax), Key(Backend(CudaArchitecture.SM_80), ArgMax));   // and only with them
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("one PTX character changed")]
    [InlineData("another key's header")]
    [InlineData("empty")]
    public void A_damaged_entry_is_compiled_again_and_rewritten(string damage)
    {
        var specialization = new KernelSpecialization(ArgMaxKernel.GroupSize, null);
        var good = (PTXCompiledKernel)new PtxCache(_temp.Path).Compile(_backend, ArgMax, specialization);
        string path = Directory.GetFiles(_temp.Path, "*.ptx").Single();
        string text = File.ReadAllText(path);
        File.WriteAllText(path, damage switch
        {
            "truncated" => text[..(text.Length * 2 / 3)],
            "one PTX character changed" => text[..^40] + (text[^40] == 'a' ? 'b' : 'a') + text[^39..],
            "another key's header" => text.Replace($"key {Path.GetFileNameWithoutExtension(path)}", $"key {new string('0', 64)}"),
            _ => "",
        });

        var cache = new PtxCache(_temp.Path);
        var again = (PTXCompiledKernel)cache.Compile(_backend, ArgMax, specialization);
        Assert.Equal((0, 1), (cache.Loaded, cache.Compiled));
        Assert.Equal(Renumbered(good.PTXAssembly), Renumbered(again.PTXAssembly));
        // Rewritten whole (its hash differs with the PTX's numbering).
        static string Comparable(string entry) => Renumbered(System.Text.RegularExpressions.Regex.Replace(entry, "^sha [0-9a-f]{64}$", "sha", System.Text.RegularExpressions.RegexOptions.Multiline));
        Assert.Equal(Comparable(text), Comparable(File.ReadAllText(path)));
        var after = new PtxCache(_temp.Path);
        after.Compile(_backend, ArgMax, specialization);
        Assert.Equal(1, after.Loaded);
    }

    [Fact]
    public void A_folder_that_cannot_be_written_costs_only_the_saving()
    {
        string blocked = _temp.File("a-file");
        File.WriteAllText(blocked, "not a folder");
        var cache = new PtxCache(Path.Combine(blocked, "kernels"));
        var kernel = (PTXCompiledKernel)cache.Compile(_backend, ArgMax, new KernelSpecialization(ArgMaxKernel.GroupSize, null));
        Assert.Contains(".entry Kernel_ArgMaxKernel(", kernel.PTXAssembly, StringComparison.Ordinal);
        Assert.Equal((0, 1, 1), (cache.Loaded, cache.Compiled, cache.Unwritten));
    }

    [Fact]
    public void The_default_folder_follows_the_environment()
    {
        string? set = Environment.GetEnvironmentVariable(PtxCache.DirectoryVariable);
        try
        {
            Environment.SetEnvironmentVariable(PtxCache.DirectoryVariable, "off");
            Assert.Null(PtxCache.DefaultDirectory);
            Environment.SetEnvironmentVariable(PtxCache.DirectoryVariable, _temp.Path);
            Assert.Equal(_temp.Path, PtxCache.DefaultDirectory);
            Environment.SetEnvironmentVariable(PtxCache.DirectoryVariable, null);
            Assert.EndsWith(Path.Combine("specialized", "kernels"), PtxCache.DefaultDirectory);
        }
        finally
        {
            Environment.SetEnvironmentVariable(PtxCache.DirectoryVariable, set);
        }
    }

    private static void AssertSameEntry(CompiledKernel expected, CompiledKernel actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.NumParameters, actual.NumParameters);
        Assert.Equal(expected.IndexType, actual.IndexType);
        Assert.Equal(expected.Specialization, actual.Specialization);
        Assert.Equal(SharedMemory(expected), SharedMemory(actual));
    }

    /// <summary>
    /// The PTX with ILGPU's numbering taken out: it names values by the ids of its IR nodes (<c>_logits_461</c>), which
    /// count across a process's compilations, so two compilations of one kernel differ only there.
    /// </summary>
    private static string Renumbered(string ptx) => System.Text.RegularExpressions.Regex.Replace(ptx, @"_\d+\b", "_#");

    private static SharedMemorySpecification SharedMemory(CompiledKernel kernel) =>
        ((EntryPoint)typeof(CompiledKernel).GetProperty("EntryPoint", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(kernel)!).SharedMemory;

    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
        _temp.Dispose();
    }
}
