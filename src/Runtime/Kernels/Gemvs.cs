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
    private readonly Kind _plain, _pairs, _rotary;

    private Gemvs(Kind plain, Kind pairs, Kind rotary)
    {
        _plain = plain;
        _pairs = pairs;
        _rotary = rotary;
    }

    /// <summary>The three kinds of rows the engine's projections take, the rotary one writing a KV cache of format <typeparamref name="TKv"/>.</summary>
    public static Gemvs Load<TKv>(KernelLoader kernels) where TKv : struct, IKvFormat =>
        new(Kind.Load<PlainRows>(kernels), Kind.Load<NormedPairs>(kernels), Kind.Load<NormedRotaryPairs<TKv>>(kernels));

    /// <summary>The GEMV compiled for one kind of rows, and how many of its groups an SM holds.</summary>
    private sealed record Kind(Action<AcceleratorStream, KernelConfig, ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<float>, ArrayView<float>, GemvShape, GemvKvTarget> Launch,
        int GroupsPerMultiprocessor)
    {
        public static Kind Load<TRows>(KernelLoader kernels) where TRows : struct, IGemvRows
        {
            // Launch bounds where a group can be 256 threads (not on a one-warp CPU accelerator).
            var bounds = kernels.Accelerator.MaxNumThreadsPerGroup >= LinearKernel.MaxGroupSize ? LinearKernel.Specialization<TRows>() : default;
            var kernel = kernels.LoadKernel<ArrayView<Float4>, ArrayView<Float4>, ArrayView<Bf16x8>, ArrayView<float>, ArrayView<float>, GemvShape, TRows,
                ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>>(LinearKernel.Run<TRows>, bounds);
            return new Kind((stream, config, x, norm, weight, bias, y, shape, kv) =>
                    kernel(stream, config, x, norm, weight, bias, y, shape, default, kv.Cos, kv.Sin, kv.Positions, kv.Slots, kv.Keys, kv.Values),
                default(TRows).GroupsPerMultiprocessor);
        }
    }

    /// <summary>
    /// y [tokens, outputs] = x [tokens, inDim] Wᵀ (+ bias), or y += it (<see cref="GemvEpilogue.Add"/>); or, of the
    /// residual stream x RMS-normalized on the way in with <paramref name="norm"/> and <paramref name="eps"/>, the SiLU
    /// of gate and up row pairs (<see cref="GemvEpilogue.SiluPair"/>) or q | k | v rotated with k and v stored to
    /// <paramref name="kv"/> (<see cref="GemvEpilogue.RotaryPairs"/>: outputs counts the row pairs). Those are the
    /// engine's projections; a normed one without pairs is not. <paramref name="bias"/> is read only when <paramref name="hasBias"/>.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> norm, ArrayView<Bf16x8> weight, ArrayView<float> bias, bool hasBias,
        ArrayView<float> y, int tokens, int inDim, int outputs, GemvEpilogue epilogue, float eps, int multiprocessors, int groupSize,
        GemvKvTarget? kv = null)
    {
        bool pairs = epilogue is GemvEpilogue.SiluPair or GemvEpilogue.RotaryPairs;
        if (norm.IsValid != pairs) throw new ArgumentException("The SiLU and rotary pairs, and only they, are of normed rows.", nameof(norm));
        if ((epilogue == GemvEpilogue.RotaryPairs) != kv.HasValue) throw new ArgumentException("The rotary pairs, and only they, write a KV cache.", nameof(kv));
        Kind kind = epilogue switch { GemvEpilogue.SiluPair => _pairs, GemvEpilogue.RotaryPairs => _rotary, _ => _plain };
        var (config, shape) = GemvShape.Plan(tokens, inDim, outputs, epilogue, hasBias, eps, multiprocessors, kind.GroupsPerMultiprocessor, groupSize);
        // Views the other kinds never read stand in for the KV target: ILGPU launches only valid views.
        GemvKvTarget target = kv ?? new GemvKvTarget(y, y, y.Cast<int>(), y.Cast<int>(), y, y, 0, 0, 0);
        (shape.HeadDim, shape.Heads, shape.KvHeads) = (target.HeadDim, target.Heads, target.KvHeads);
        kind.Launch(stream, config, x.Cast<Float4>(), (norm.IsValid ? norm : x).Cast<Float4>(), weight, bias, y, shape, target);
    }
}
