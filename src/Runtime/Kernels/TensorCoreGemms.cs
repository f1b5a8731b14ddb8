using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// The tensor-core GEMM as its callers run it, for one kind of activations, one MMA instruction and one tile shape: the activations'
/// bf16 terms (<see cref="ActivationSplitKernel"/>), the GEMM on the launch <see cref="TensorCoreGemmKernel.Plan"/>
/// picks and, when that splits K, the sum of the partial planes (<see cref="SplitKSumKernel"/>). The engine's backend,
/// the GEMM benchmarks and the kernel tests all launch it through here.
/// </summary>
internal sealed class TensorCoreGemms
{
    private const int ElementwiseGroup = 256;

    /// <summary>Threads a row of the normed split: a 896-wide row is 112 octets.</summary>
    private const int NormedGroup = 128;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int> _terms;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int, float> _normedTerms;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, GemmSources, ArrayView<float>, int, int, int, ArrayView<float>, int, int, int, int> _gemm;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<float>, int, int, int, ArrayView<Float4>, int, int, int> _sum;
    private readonly int _activationTerms;
    private readonly GemmTiling _tiling;

    private TensorCoreGemms(
        Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int> terms,
        Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int, float> normedTerms,
        Action<AcceleratorStream, KernelConfig, ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, GemmSources, ArrayView<float>, int, int, int, ArrayView<float>, int, int, int, int> gemm,
        Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<float>, int, int, int, ArrayView<Float4>, int, int, int> sum,
        int activationTerms, GemmTiling tiling)
    {
        _terms = terms;
        _normedTerms = normedTerms;
        _gemm = gemm;
        _sum = sum;
        _activationTerms = activationTerms;
        _tiling = tiling;
    }

    /// <summary>The most floats a split of K's partial sums take on a card of <paramref name="multiprocessors"/> SMs (the <c>partials</c> of <see cref="Run"/>).</summary>
    public long MaxPartialFloats(int multiprocessors) => _tiling.MaxPartialFloats(multiprocessors);

    /// <summary>The launch <see cref="Run"/> makes for these sizes.</summary>
    public GemmPlan Plan(int tokens, int inDim, int outDim, int multiprocessors) =>
        TensorCoreGemmKernel.Plan(tokens, inDim, outDim, multiprocessors, _activationTerms, _tiling);

    /// <summary>Compiles the four kernels (the GEMM with its launch bounds) through <paramref name="kernels"/>.</summary>
    public static TensorCoreGemms Load<TActivations, TMma, TShape>(KernelLoader kernels)
        where TActivations : struct, IGemmActivations where TMma : struct, IMma where TShape : struct, IGemmShape
    {
        var terms = kernels.LoadKernel<ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int, TActivations>(ActivationSplitKernel.Run<TActivations, TMma>);
        var normedTerms = kernels.LoadKernel<ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, int, float, TActivations>(
            ActivationSplitKernel.RunNormed<TActivations, TMma>);
        // The warp tile that goes with the instruction: PTX on CUDA, the emulation elsewhere.
        var gemm = typeof(TMma) == typeof(PtxMma) ? LoadGemm<TActivations, PtxGemmTile, TShape>(kernels) : LoadGemm<TActivations, EmulatedGemmTile, TShape>(kernels);
        int activationTerms = default(TActivations).Terms;
        GemmTiling tiling = GemmTiling.Of<TShape>();
        // Above 48 KB a group's dynamic shared memory must be allowed per function (cuFuncSetAttribute).
        if (gemm.GetKernel() is CudaKernel cuda)
        {
            int bytes = 16 * tiling.SharedChunks(activationTerms);
            int result = cuFuncSetAttribute(cuda.FunctionPtr, MaxDynamicSharedSizeBytes, bytes);
            if (result != 0) throw new InvalidOperationException($"cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, {bytes}) failed with CUDA error {result}.");
        }
        return new TensorCoreGemms(
            (stream, config, x, hi, lo, octets) => terms(stream, config, x, hi, lo, octets, default),
            (stream, config, x, norm, hi, lo, inDim, eps) => normedTerms(stream, config, x, norm, hi, lo, inDim, eps, default),
            (stream, config, hi, lo, w, sources, bias, hasBias, accumulate, siluPairs, y, tokens, inDim, outDim, slicesPerSplit) =>
                gemm(stream, config, hi, lo, w, sources, bias, hasBias, accumulate, siluPairs, y, tokens, inDim, outDim, slicesPerSplit, default),
            kernels.LoadKernel<ArrayView<Float4>, ArrayView<float>, int, int, int, ArrayView<Float4>, int, int, int>(SplitKSumKernel.Run),
            activationTerms, tiling);
    }

    private static Action<AcceleratorStream, KernelConfig, ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, GemmSources, ArrayView<float>, int, int, int, ArrayView<float>, int, int, int, int, TActivations>
        LoadGemm<TActivations, TTile, TShape>(KernelLoader kernels)
        where TActivations : struct, IGemmActivations where TTile : struct, IGemmTile<TTile> where TShape : struct, IGemmShape =>
        kernels.LoadKernel<ArrayView<Bf16x8>, ArrayView<Bf16x8>, ArrayView<Bf16x8>, GemmSources, ArrayView<float>, int, int, int, ArrayView<float>, int, int, int, int, TActivations>(
            TensorCoreGemmKernel.Run<TActivations, TTile, TShape>, TensorCoreGemmKernel.Specialization<TShape>());

    /// <summary>
    /// y [tokens, outDim] = x [tokens, inDim] Wᵀ (+ bias) on <paramref name="stream"/>, planned for a card of
    /// <paramref name="multiprocessors"/> SMs; with <paramref name="accumulate"/>, y += instead. With a
    /// <paramref name="norm"/>, x is RMS-normalized first (by rows, with <paramref name="eps"/>) as its terms are made.
    /// With <paramref name="siluPairs"/>, W is the MLP's [gate | up] (outDim = 2I, I a multiple of 8, no bias) and
    /// y [tokens, I] = silu(x·gateᵀ)·(x·upᵀ), made in the GEMM's epilogue (or the split-K sum's).
    /// <paramref name="terms"/> holds the activations' hi and lo terms (2 · tokens · inDim); <paramref name="partials"/>
    /// at least <see cref="MaxPartialFloats"/>.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<ushort> terms, ArrayView<Bf16x8> weight, ArrayView<float> bias, bool hasBias,
        ArrayView<float> y, ArrayView<float> partials, int tokens, int inDim, int outDim, int multiprocessors,
        ArrayView<float> norm = default, float eps = 0f, bool accumulate = false, bool siluPairs = false)
    {
        if (siluPairs && (outDim % 16 != 0 || hasBias || accumulate))
        {
            throw new ArgumentException($"silu pairs need [gate | up] rows of a multiple of 8 each, without bias or accumulation (outDim {outDim}).");
        }
        long count = (long)tokens * inDim;
        ArrayView<Bf16x8> hi = terms.SubView(0, count).Cast<Bf16x8>(), lo = terms.SubView(count, count).Cast<Bf16x8>();
        int octets = (int)(count / 8);
        if (norm.IsValid) _normedTerms(stream, new KernelConfig(tokens, NormedGroup), x.Cast<Float4>(), norm.Cast<Float4>(), hi, lo, inDim, eps);
        else _terms(stream, Elementwise(octets), x.Cast<Float4>(), hi, lo, octets);
        GemmPlan plan = Plan(tokens, inDim, outDim, multiprocessors);
        var sources = new GemmSources(Address(hi), Address(lo), Address(weight));
        int add = accumulate ? 1 : 0, pairs = siluPairs ? 1 : 0;
        if (plan.Splits == 1)
        {
            _gemm(stream, plan.Config, hi, lo, weight, sources, bias, hasBias ? 1 : 0, add, siluPairs ? GemmColumns.SiluPairs : GemmColumns.Plain,
                y, tokens, inDim, outDim, plan.SlicesPerSplit);
            return;
        }
        // The partial planes hold plain sums (of the paired columns, with silu pairs); the sum finishes them.
        partials = partials.SubView(0, (long)plan.Splits * tokens * outDim);
        _gemm(stream, plan.Config, hi, lo, weight, sources, bias, 0, 0, siluPairs ? GemmColumns.PairedSums : GemmColumns.Plain,
            partials, tokens, inDim, outDim, plan.SlicesPerSplit);
        int quads = tokens * outDim / 4, outputs = siluPairs ? quads / 2 : quads;
        _sum(stream, Elementwise(quads), partials.Cast<Float4>(), bias, hasBias ? 1 : 0, add, pairs, y.SubView(0, 4L * outputs).Cast<Float4>(), quads, plan.Splits, outDim);
    }

    /// <summary>A view's device address (on ILGPU's CPU accelerator, a host address the emulation never reads).</summary>
    private static long Address(ArrayView<Bf16x8> view) => view.IsValid && view.Length > 0 ? view.LoadEffectiveAddressAsPtr().ToInt64() : 0;

    private const int MaxDynamicSharedSizeBytes = 8;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES

    [DllImport("libcuda.so.1")] private static extern int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    private static KernelConfig Elementwise(int count) => new((count + ElementwiseGroup - 1) / ElementwiseGroup, ElementwiseGroup);
}
