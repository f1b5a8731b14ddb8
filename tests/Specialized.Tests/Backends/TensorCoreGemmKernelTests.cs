using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Specialized.Kernels;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The tensor-core GEMM (after the activation split it reads) — its tiling, staging and fragment layouts — on ILGPU's CPU accelerator, where the MMA instruction is
/// computed from the PTX ISA's fragment layouts by the warp's lanes (on a GPU the instruction itself runs; the device
/// scripts check that). Shapes are ragged in rows and columns so the edge paths run: 200 x 136 over 160 inputs is 2 x 2
/// tiles of 128 x 128 (the last row of tiles has 72 rows: of a thread's four staged rows the last one or two lie past it), five 32-deep
/// slices (the four cp.async stages, the first reused), or with K split in two, parts of three and two slices. Every
/// case runs in the three tile shapes: in 128 x 256 tiles (8 warps) the columns are one tile, two of its four warp
/// columns wholly past the edge; in 256 x 128 the rows are one tile, of its last warp row (rows 192-255) only 8 live.
/// </summary>
public sealed class TensorCoreGemmKernelTests
{
    private const int Tokens = 200, InDim = 160, OutDim = 136;

    [Theory]
    [InlineData(Shape.Square)]
    [InlineData(Shape.Wide)]
    [InlineData(Shape.Tall)]
    public void Split_activations_give_a_float32_faithful_product(Shape shape)
    {
        (float[] x, float[] w, float[] b) = Inputs(seed: 11);
        float[] y = Run<SplitActivations>(shape, x, w, b, multiprocessors: 1);

        // Each activation is carried by two bf16 terms to within 2^-16 of itself (each rounding keeps 8 significant
        // bits), the bf16 weights and the products are exact in float32, and InDim float32 additions add at most
        // InDim * 2^-24 of the absolute sum. So the error is below (2^-16 + InDim * 2^-24) * Σ|x·w|; a wrong fragment
        // or tile index moves a result by about Σ|x·w| itself.
        AssertClose(x, w, b, y, Math.Pow(2, -16) + SumError);
    }

    [Theory]
    [InlineData(Shape.Square)]
    [InlineData(Shape.Wide)]
    [InlineData(Shape.Tall)]
    public void A_split_of_k_adds_its_partial_sums_to_the_same_product(Shape shape)
    {
        // Eight SMs hold 16 square groups (8 of 8 warps); the 4 square tiles (2 of the others) fill a quarter of them,
        // so K splits in two (3 + 2 slices), and the partial sums meet in SplitKSumKernel, which adds the bias. The bound is the one
        // above: the additions are the same in number, in another order.
        Assert.Equal(2, TensorCoreGemmKernel.Plan(Tokens, InDim, OutDim, multiprocessors: 8, terms: 2, Tiling(shape)).Splits);
        (float[] x, float[] w, float[] b) = Inputs(seed: 13);
        float[] y = Run<SplitActivations>(shape, x, w, b, multiprocessors: 8);
        AssertClose(x, w, b, y, Math.Pow(2, -16) + SumError);
    }

    [Theory]
    [InlineData(Shape.Square)]
    [InlineData(Shape.Wide)]
    [InlineData(Shape.Tall)]
    public void Rounded_activations_are_within_bf16_rounding(Shape shape)
    {
        (float[] x, float[] w, float[] b) = Inputs(seed: 12);
        float[] y = Run<RoundedActivations>(shape, x, w, b, multiprocessors: 1);

        // One bf16 rounding of each activation: 2^-8 of it, plus the float32 sum as above.
        AssertClose(x, w, b, y, Math.Pow(2, -8) + SumError);
    }

    /// <summary>
    /// The MLP's gate/up projection with SiLU in the epilogue: W is [gate | up] with I = 72 rows each, and y [t, i] =
    /// silu(gate_i)·up_i. The paired columns (eight gate, eight up) make 144 columns, a full tile and one of 16; with K
    /// split, the split-K sum pairs them instead.
    /// </summary>
    [Theory]
    [InlineData(1, Shape.Square)]
    [InlineData(8, Shape.Square)]
    [InlineData(1, Shape.Wide)]
    [InlineData(8, Shape.Wide)]
    [InlineData(8, Shape.Tall)]
    public void Silu_pairs_multiply_gate_and_up_in_the_epilogue(int multiprocessors, Shape shape)
    {
        const int intermediate = 72;
        Assert.Equal(multiprocessors == 8 ? 2 : 1, TensorCoreGemmKernel.Plan(Tokens, InDim, 2 * intermediate, multiprocessors, terms: 2, Tiling(shape)).Splits);
        (float[] x, float[] w, _) = Inputs(seed: 14, outDim: 2 * intermediate);
        float[] y = Run<SplitActivations>(shape, x, w, new float[2 * intermediate], multiprocessors, 2 * intermediate, siluPairs: true);
        double relative = Math.Pow(2, -16) + SumError;
        for (int t = 0; t < Tokens; t++)
        {
            for (int i = 0; i < intermediate; i++)
            {
                (double g, double gm) = Dot(x, w, t, i);
                (double u, double um) = Dot(x, w, t, intermediate + i);
                double eg = relative * gm, eu = relative * um, expected = g / (1 + Math.Exp(-g)) * u;
                // silu's slope stays within 1.1, and |silu(g)| within |g|; then float32 rounding of the product.
                double bound = 1.1 * (Math.Abs(u) + eu) * eg + (Math.Abs(g) + eg) * eu + 1e-5 * Math.Abs(expected) + 1e-6;
                float actual = y[t * intermediate + i];
                Assert.True(Math.Abs(actual - expected) <= bound, $"[{t}, {i}]: {actual} vs {expected} (bound {bound:E2})");
            }
        }
    }

    private static (double Sum, double Magnitude) Dot(float[] x, float[] w, int t, int o)
    {
        double sum = 0, magnitude = 0;
        for (int k = 0; k < InDim; k++)
        {
            double product = (double)x[t * InDim + k] * w[o * InDim + k];
            sum += product;
            magnitude += Math.Abs(product);
        }
        return (sum, magnitude);
    }

    /// <summary>The float32 additions' share of the bound, relative to Σ|x·w|.</summary>
    private static double SumError => InDim * Math.Pow(2, -24);

    private static (float[] X, float[] W, float[] B) Inputs(int seed, int outDim = OutDim)
    {
        var rng = new Random(seed);
        float[] x = Enumerable.Range(0, Tokens * InDim).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        float[] w = Enumerable.Range(0, outDim * InDim).Select(_ => RandomModel.RoundToBf16((float)(rng.NextDouble() * 2 - 1))).ToArray();
        float[] b = Enumerable.Range(0, outDim).Select(_ => (float)rng.NextDouble()).ToArray();
        return (x, w, b);
    }

    public enum Shape
    {
        Square,
        Wide,
        Tall,
    }

    private static GemmTiling Tiling(Shape shape) => shape switch
    {
        Shape.Square => GemmTiling.Of<SquareTiles>(),
        Shape.Wide => GemmTiling.Of<WideTiles>(),
        _ => GemmTiling.Of<TallTiles>(),
    };

    private static float[] Run<TActivations>(Shape shape, float[] x, float[] w, float[] b, int multiprocessors, int outDim = OutDim, bool siluPairs = false)
        where TActivations : struct, IGemmActivations
    {
        using var context = Context.Create(builder => builder.CPU(new CPUDevice(32, 8, 1)));
        using var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
        ushort[] bits = w.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
        using var xs = accelerator.Allocate1D(x);
        using var terms = accelerator.Allocate1D<ushort>(2L * x.Length);
        using var ws = accelerator.Allocate1D(bits);
        using var bs = accelerator.Allocate1D(b);
        using var ys = accelerator.Allocate1D<float>(Tokens * (siluPairs ? outDim / 2 : outDim));
        TensorCoreGemms gemms = shape switch
        {
            Shape.Square => TensorCoreGemms.Load<TActivations, EmulatedMma, SquareTiles>(new KernelLoader(accelerator)),
            Shape.Wide => TensorCoreGemms.Load<TActivations, EmulatedMma, WideTiles>(new KernelLoader(accelerator)),
            _ => TensorCoreGemms.Load<TActivations, EmulatedMma, TallTiles>(new KernelLoader(accelerator)),
        };
        using var partials = accelerator.Allocate1D<float>(gemms.MaxPartialFloats(multiprocessors));
        ys.MemSetToZero();
        gemms.Run(accelerator.DefaultStream, xs.View, terms.View, ((ArrayView<ushort>)ws.View).Cast<Bf16x8>(),
            bs.View, hasBias: !siluPairs, ys.View, partials.View, Tokens, InDim, outDim, multiprocessors, siluPairs: siluPairs);
        accelerator.Synchronize();
        return ys.GetAsArray1D();
    }

    private static void AssertClose(float[] x, float[] w, float[] b, float[] y, double relative)
    {
        for (int t = 0; t < Tokens; t++)
        {
            for (int o = 0; o < OutDim; o++)
            {
                double exact = b[o], magnitude = Math.Abs(b[o]);
                for (int k = 0; k < InDim; k++)
                {
                    double product = (double)x[t * InDim + k] * w[o * InDim + k];
                    exact += product;
                    magnitude += Math.Abs(product);
                }
                double error = Math.Abs(y[t * OutDim + o] - exact);
                Assert.True(error <= relative * magnitude, $"[{t}, {o}]: {y[t * OutDim + o]} vs {exact} (error {error:E2}, bound {relative * magnitude:E2})");
            }
        }
    }
}

/// <summary>
/// The CUDA build of the GEMM, as PTX (ILGPU's PTX backend needs no GPU): its inline PTX addresses the stages through
/// the name ILGPU gives the dynamic shared memory, and holds the accumulators in registers it declares itself. If an
/// ILGPU update renamed the one or moved the other, the kernel would fail to load on a GPU; this says so here.
/// </summary>
public sealed class TensorCoreGemmPtxTests
{
    [Theory]
    [InlineData(typeof(SplitActivations), typeof(SquareTiles))]
    [InlineData(typeof(RoundedActivations), typeof(SquareTiles))]
    [InlineData(typeof(SplitActivations), typeof(WideTiles))]
    [InlineData(typeof(RoundedActivations), typeof(WideTiles))]
    [InlineData(typeof(SplitActivations), typeof(TallTiles))]
    public void The_inline_ptx_names_what_the_kernel_declares(Type activations, Type shape)
    {
        using var context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(Specialized.Backends.Ilgpu.IlgpuBackend.KernelOptimization));
        using var backend = new ILGPU.Backends.PTX.PTXBackend(context, new ILGPU.Runtime.Cuda.CudaCapabilityContext(ILGPU.Runtime.Cuda.CudaArchitecture.SM_80),
            ILGPU.Runtime.Cuda.CudaArchitecture.SM_80, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80, null);
        var run = typeof(TensorCoreGemmKernel).GetMethod(nameof(TensorCoreGemmKernel.Run))!.MakeGenericMethod(activations, typeof(PtxGemmTile), shape);
        var specialization = (KernelSpecialization)typeof(TensorCoreGemmKernel).GetMethod(nameof(TensorCoreGemmKernel.Specialization))!.MakeGenericMethod(shape).Invoke(null, null)!;
        var kernel = (ILGPU.Backends.PTX.PTXCompiledKernel)backend.Compile(
            ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(run), specialization);
        string ptx = kernel.PTXAssembly;

        Assert.Contains($".maxntid {specialization.MaxNumThreadsPerGroup}, 1, 1", ptx);

        Assert.Contains(".extern .shared .align 16 .b8 __dyn_shared_alloca[];", ptx);
        Assert.DoesNotContain("__shared_alloca0", ptx);   // no static shared memory ahead of the stages
        int declared = ptx.IndexOf(".reg .f32 gemm_c<128>;", StringComparison.Ordinal), used = ptx.IndexOf("mma.sync", StringComparison.Ordinal);
        Assert.True(declared >= 0 && declared < used, "the accumulators are declared before the first MMA");
        int terms = activations == typeof(SplitActivations) ? 2 : 1;
        Assert.Equal(64 * terms, CountOf(ptx, "mma.sync.aligned.m16n8k16"));
        Assert.Equal(8 + 8 * terms, CountOf(ptx, "ldmatrix.sync.aligned.m8n8.x4"));
        if (terms == 2)
        {
            // The lo term lies one term's slice (16 bytes a chunk) after the hi term, for this shape's tile rows.
            var termBytes = 16 * ((GemmTiling)typeof(GemmTiling).GetMethod(nameof(GemmTiling.Of))!.MakeGenericMethod(shape).Invoke(null, null)!).TermChunks;
            Assert.Contains($"add.u32 sa0, sa0, {termBytes};", ptx);
        }
    }

    private static int CountOf(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal)) count++;
        return count;
    }
}
