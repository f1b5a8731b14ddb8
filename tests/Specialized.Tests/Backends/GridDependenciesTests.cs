using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;

namespace Specialized.Tests.Backends;

/// <summary>
/// The grid-dependency prologue on ILGPU's PTX (its PTX backend needs no GPU): on sm_90 every kernel's body begins with
/// the wait, ahead of any load or store, its target is raised from ILGPU's sm_80 to the sm_90 the wait needs, and the
/// rest of its PTX is as ILGPU wrote it; older devices get no prologue.
/// Whether the decode graphs' programmatic edges overlap launches, and give the tokens plain edges give, only a GPU
/// shows (tools/device/session-ab.sh compares both).
/// </summary>
public sealed class GridDependenciesTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(IlgpuBackend.KernelOptimization));

    [Fact]
    public void Only_sm_90_with_PTX_7_8_can_wait_unless_switched_off()
    {
        using PTXBackend hopper = Backend(CudaArchitecture.SM_90, CudaInstructionSet.ISA_78);
        using PTXBackend ampere = Backend(CudaArchitecture.SM_80, CudaInstructionSet.ISA_80);
        using PTXBackend oldIsa = Backend(CudaArchitecture.SM_90, CudaInstructionSet.ISA_70);
        Assert.True(GridDependencies.Supported(hopper));
        Assert.False(GridDependencies.Supported(ampere));
        Assert.False(GridDependencies.Supported(oldIsa));
        string? set = Environment.GetEnvironmentVariable(GridDependencies.Variable);
        try
        {
            Environment.SetEnvironmentVariable(GridDependencies.Variable, "off");
            Assert.False(GridDependencies.Supported(hopper));
        }
        finally
        {
            Environment.SetEnvironmentVariable(GridDependencies.Variable, set);
        }
    }

    public static TheoryData<string> Kernels => new() { "ArgMax", "Gemv", "TensorCoreGemm" };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void The_wait_is_the_body_s_first_statement_and_nothing_else_changes(string kernel)
    {
        using PTXBackend backend = Backend(CudaArchitecture.SM_90, CudaInstructionSet.ISA_78);
        // A kernel without launch bounds, one with them between its parameters and its body, and the GEMM (dynamic
        // shared memory, inline PTX with blocks of its own).
        var (method, specialization) = kernel switch
        {
            "ArgMax" => (typeof(ArgMaxKernel).GetMethod(nameof(ArgMaxKernel.Run))!, default(KernelSpecialization)),
            "Gemv" => (typeof(LinearKernel).GetMethod(nameof(LinearKernel.Run))!.MakeGenericMethod(typeof(NormedRotaryPairs<Float32Kv>)),
                LinearKernel.Specialization<NormedRotaryPairs<Float32Kv>>()),
            _ => (typeof(TensorCoreGemmKernel).GetMethod(nameof(TensorCoreGemmKernel.Run))!.MakeGenericMethod(typeof(SplitActivations), typeof(PtxGemmTile), typeof(SquareTiles)),
                TensorCoreGemmKernel.Specialization<SquareTiles>()),
        };
        string ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), specialization)).PTXAssembly;

        Assert.True(GridDependencies.TryAdd(ptx, out string waiting));

        // ILGPU targets sm_80 even for an sm_90 device; the wait needs sm_90, and nothing else changes.
        Assert.Contains("\n.target sm_80\n", ptx, StringComparison.Ordinal);
        Assert.Equal(ptx, waiting.Replace(GridDependencies.Prologue, "", StringComparison.Ordinal).Replace(GridDependencies.Target, ".target sm_80", StringComparison.Ordinal));
        string[] lines = waiting.Split('\n');
        Assert.Single(lines, l => l.StartsWith(".target", StringComparison.Ordinal));
        Assert.Contains(GridDependencies.Target, lines);
        int entry = Array.FindIndex(lines, l => l.Contains(".entry ", StringComparison.Ordinal));
        int body = Array.IndexOf(lines, "{", entry);
        Assert.Equal("\tgriddepcontrol.wait;", lines[body + 1]);
        Assert.Equal("\tgriddepcontrol.launch_dependents;", lines[body + 2]);
        // Between the entry and the body only parameters and launch bounds: no instruction runs before the wait.
        Assert.All(lines[(entry + 1)..body], l => Assert.Matches(@"^(\t\.param |\)$|\.maxntid |\.minnctapersm )", l));
    }

    [Theory]
    [InlineData(".version 8.0\n.target sm_90\n")]   // no entry
    [InlineData(".version 8.0\n.target sm_80\n.visible .entry A(\n)\n{\n\tret;\n}\n.visible .entry B(\n)\n{\n\tret;\n}\n")]   // two
    [InlineData(".version 8.0\n.visible .entry A(\n)\n{\n\tret;\n}\n")]   // no target
    [InlineData(".version 8.8\n.target sm_100\n.visible .entry A(\n)\n{\n\tret;\n}\n")]   // a later target than the prologue's
    public void PTX_that_is_not_one_kernel_for_sm_90_or_below_is_left_alone(string ptx)
    {
        Assert.False(GridDependencies.TryAdd(ptx, out string unchanged));
        Assert.Equal(ptx, unchanged);
    }

    [Fact]
    public void The_prologue_and_the_target_go_where_they_belong()
    {
        Assert.True(GridDependencies.TryAdd(".version 8.8\n.target sm_80\n.address_size 64\n\n.visible .entry A(\n\t.param .b32 a\n)\n.maxntid 256, 1, 1\n{\n\tret;\n}\n", out string ptx));
        Assert.Equal(".version 8.8\n.target sm_90\n.address_size 64\n\n.visible .entry A(\n\t.param .b32 a\n)\n.maxntid 256, 1, 1\n{\n" + GridDependencies.Prologue + "\tret;\n}\n", ptx);
    }

    [Fact]
    public void Kernels_on_the_CPU_accelerator_load_as_ILGPU_loads_them()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context);
        var loader = new KernelLoader(accelerator, new PtxCache(Path.GetTempPath()));
        Assert.Null(loader.Cache);
        var argMax = loader.LoadKernel<ArrayView<float>, ArrayView<int>, int>(ArgMaxKernel.Run);
        Assert.False(loader.WaitsForGridDependencies(IntPtr.Zero));
        Assert.NotNull(argMax);
    }

    private PTXBackend Backend(CudaArchitecture architecture, CudaInstructionSet isa) =>
        new(_context, new CudaCapabilityContext(architecture), architecture, isa, null);

    public void Dispose() => _context.Dispose();
}
