using ILGPU;
using ILGPU.Runtime;

namespace Specialized.Kernels;

/// <summary>
/// The GEMV as its callers run it (<see cref="LinearKernel"/>): compiled once for each kind of input rows
/// (<see cref="IGemvRows"/>) and launched on the plan <see cref="GemvShape.Plan"/> makes. The CUDA backend (and through it
/// the kernel tests on ILGPU's CPU accelerator) and the GEMV benchmarks launch it through here.
/// </summary>
internal sealed class Gemvs
{
    private readonly Kind _plain, _normed, _pairs;

    private Gemvs(KernelLoader kernels)
    {
        _plain = Kind.Load<PlainRows>(kernels);
        _normed = Kind.Load<NormedRows>(kernels);
        _pairs = Kind.Load<NormedPairs>(kernels);
    }

    public static Gemvs Load(KernelLoader kernels) => new(kernels);

    /// <summary>The GEMV compiled for one kind of rows, and how many of its groups an SM holds.</summary>
    private sealed record Kind(Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<float>, ArrayView<float>, GemvShape> Launch,
        int GroupsPerMultiprocessor)
    {
        public static Kind Load<TRows>(KernelLoader kernels) where TRows : struct, IGemvRows
        {
            // Launch bounds where a group can be 256 threads (not on a one-warp CPU accelerator).
            var bounds = kernels.Accelerator.MaxNumThreadsPerGroup >= LinearKernel.MaxGroupSize ? LinearKernel.Specialization<TRows>() : default;
            var kernel = kernels.LoadKernel<ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<float>, ArrayView<float>, GemvShape, TRows>(
                LinearKernel.Run<TRows>, bounds);
            return new Kind((stream, config, x, norm, weight, bias, y, shape) => kernel(stream, config, x, norm, weight, bias, y, shape, default),
                default(TRows).GroupsPerMultiprocessor);
        }
    }

    /// <summary>
    /// y [tokens, outputs] = x [tokens, inDim] Wᵀ (+ bias), or y += it (<see cref="GemvEpilogue.Add"/>), or the SiLU of
    /// gate and up row pairs (<see cref="GemvEpilogue.SiluPair"/>, which needs a norm). With a <paramref name="norm"/>,
    /// x is the residual stream, RMS-normalized on the way in with <paramref name="eps"/>. <paramref name="bias"/> is
    /// read only when <paramref name="hasBias"/>.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> norm, ArrayView<Bf16x8> weight, ArrayView<float> bias, bool hasBias,
        ArrayView<float> y, int tokens, int inDim, int outputs, GemvEpilogue epilogue, float eps, int multiprocessors, int groupSize)
    {
        if (!norm.IsValid && epilogue == GemvEpilogue.SiluPair) throw new ArgumentException("The SiLU pairs are of normed rows.", nameof(norm));
        Kind kind = !norm.IsValid ? _plain : epilogue == GemvEpilogue.SiluPair ? _pairs : _normed;
        var (config, shape) = GemvShape.Plan(tokens, inDim, outputs, epilogue, hasBias, eps, multiprocessors, kind.GroupsPerMultiprocessor, groupSize);
        kind.Launch(stream, config, x.Cast<Float4>(), (norm.IsValid ? norm : x).Cast<Float4>(), weight, bias, y, shape);
    }
}
