using ILGPU;
using ILGPU.Runtime;
using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The GPU kernels, run on ILGPU's CPU accelerator (it simulates every thread, so shapes are tiny and launches few),
/// against the CPU backend on the same weights and batches.
/// </summary>
public sealed class IlgpuKernelTests
{
    // Both sides accumulate in float32 in different orders (warp trees against SIMD lanes); relative differences are
    // ~1e-6, so 1e-4 on logits of size ~10 bounds rounding while any indexing or masking error shows as O(1).
    private const double Tolerance = 1e-4;

    private static readonly RunnerOptions Options = new(MaxBatchTokens: 16, MaxLogitRows: 16, Kv: new KvCacheLayout(8, 4), MaxPositions: 64);

    /// <summary>
    /// One layer with grouped heads (2 query heads on 1 KV head) and a sliding window of 2, so a chunked prefill and a
    /// decode step exercise the cached prefix, the window and scattered pages in ~25 launches (each launch costs
    /// ~0.3 s on the simulator). With one warp a group attention runs a warp per (token, head); with eight, a group per
    /// block of tokens.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Prefill_in_chunks_then_decode_matches_the_cpu_backend(int warpsPerGroup)
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 24, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
             "use_sliding_window": true, "sliding_window": 2, "max_window_layers": 0}
            """);
        var model = new RandomModel(spec, seed: 11);
        using var cpu = model.Runner(new GenericQwen2Model(spec), Options);
        using var gpu = model.Runner(new GenericQwen2Model(spec), Options, IlgpuBackend.CreateCpuSimulator(warpsPerGroup));

        int[] pages = [5, 2];
        ForwardBatch[] steps =
        [
            Batch([3, 23, 17], 0, pages),
            Batch([8, 11], 3, pages),
            Batch([5], 5, pages),
        ];
        foreach (ForwardBatch step in steps)
        {
            float[] expected = cpu.Forward(step).Logits.ToArray();
            float[] actual = gpu.Forward(step).Logits.ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) < Tolerance, $"element {i}: {expected[i]} vs {actual[i]}");
            }
        }
    }

    /// <summary>A context longer than a 32-key block, so the online softmax folds several blocks.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Attention_over_several_key_blocks_matches_the_cpu_backend(int warpsPerGroup)
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 24, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 10000.0, "rms_norm_eps": 1e-6}
            """);
        var options = Options with { Kv = new KvCacheLayout(12, 4), MaxBatchTokens = 40, MaxPositions = 48 };
        var model = new RandomModel(spec, seed: 12);
        using var cpu = model.Runner(new GenericQwen2Model(spec), options);
        using var gpu = model.Runner(new GenericQwen2Model(spec), options, IlgpuBackend.CreateCpuSimulator(warpsPerGroup));
        int[] pages = Enumerable.Range(0, 12).Reverse().ToArray();
        int[] prompt = Enumerable.Range(0, 40).Select(i => (i * 7) % 24).ToArray();
        var prefill = new ForwardBatch(prompt, Enumerable.Range(0, 40).ToArray(), [0, 40], [0], [pages], 4, [39]);
        var decode = new ForwardBatch([5], [40], [0, 1], [40], [pages], 4, [0]);
        foreach (ForwardBatch step in new[] { prefill, decode })
        {
            float[] expected = cpu.Forward(step).Logits.ToArray();
            float[] actual = gpu.Forward(step).Logits.ToArray();
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) < Tolerance, $"element {i}: {expected[i]} vs {actual[i]}");
            }
        }
    }

    /// <summary>
    /// Two sequences in one batch (a prefill step: the tensor-core attention, the sequences' blocks side by side), then
    /// A decoding while B brings two tokens: 3 tokens over 2 sequences is a decode-like step, so the SIMT block kernel
    /// runs it, B's two tokens sharing a block (one holds 8 tokens with 2 query heads per KV head).
    /// </summary>
    [Fact]
    public void Block_attention_over_two_sequences_matches_the_cpu_backend()
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 24, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 10000.0, "rms_norm_eps": 1e-6}
            """);
        var model = new RandomModel(spec, seed: 13);
        using var cpu = model.Runner(new GenericQwen2Model(spec), Options);
        using var gpu = model.Runner(new GenericQwen2Model(spec), Options, IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8));
        int[] a = [6, 1, 4], b = [3, 5];
        int[] promptA = [4, 9, 13, 2, 7, 7, 21, 0, 5, 11], promptB = [17, 8, 1];
        var prefill = new ForwardBatch([.. promptA, .. promptB], [.. Enumerable.Range(0, 10), .. Enumerable.Range(0, 3)], [0, 10, 13], [0, 0],
            [a, b], Options.Kv.PageSize, Enumerable.Range(0, 13).ToArray());
        var decode = new ForwardBatch([2, 19, 6], [10, 3, 4], [0, 1, 3], [10, 3], [a, b], Options.Kv.PageSize, [0, 1, 2]);
        Assert.False(IlgpuKernels<RuntimeDims>.UseTensorCoreAttention(decode.TokenCount, decode.SequenceCount));
        foreach (ForwardBatch step in new[] { prefill, decode })
        {
            float[] expected = cpu.Forward(step).Logits.ToArray();
            float[] actual = gpu.Forward(step).Logits.ToArray();
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) < Tolerance, $"element {i}: {expected[i]} vs {actual[i]}");
            }
        }
    }

    private static ForwardBatch Batch(int[] tokens, int cached, int[] pages) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [pages], Options.Kv.PageSize,
            Enumerable.Range(0, tokens.Length).ToArray());
}

/// <summary>
/// The seam's projections (the norm and SiLU folded in, the residual added) on each kernel that computes them, on a
/// simulator with 256-thread groups, against float64; the qkv projection, with RoPE and the KV write, in <see cref="NormQkvTests"/>.
/// </summary>
public sealed class IlgpuGemmTests
{
    public enum Projection
    {
        LinearAdd,
        NormGateUp,
    }

    [Theory]
    // The GEMV: 6 tokens (a warp's block of 4 and a ragged block of 2) over 1,000 inputs, whose lanes read four 8-weight
    // pieces a round, here 125 pieces a row, so the last round is ragged across the lanes.
    [InlineData(Projection.LinearAdd, 6, 1000, 24, 1)]
    [InlineData(Projection.NormGateUp, 6, 1000, 24, 1)]
    // The GEMV with each row split over the 8 warps of a group (4 SMs to fill): 8 rows of 400 pieces for one token.
    [InlineData(Projection.LinearAdd, 1, 3200, 8, 4)]
    [InlineData(Projection.NormGateUp, 1, 3200, 8, 4)]
    // The SIMT tiled GEMM (inputs not whole 32-deep slices), no edge a multiple of its 64 x 64 x 32 tiles.
    [InlineData(Projection.LinearAdd, 130, 40, 72, 1)]
    [InlineData(Projection.NormGateUp, 130, 40, 72, 1)]
    // The tensor-core GEMM: the norm in the activation split; with 4 SMs K splits in two, and the sum adds the residual.
    [InlineData(Projection.LinearAdd, 130, 128, 40, 4)]
    [InlineData(Projection.NormGateUp, 130, 128, 40, 4)]
    public void Projections_match_float64(Projection op, int tokens, int inDim, int outDim, int multiprocessors)
    {
        // hidden = the normed input's width, intermediate = the SiLU output's; the heads only have to fit (head_dim a
        // multiple of 4, as the GPU's KV writes need).
        int heads = inDim % 100 == 0 ? inDim / 100 : inDim % 16 == 0 ? 4 : 2;
        ModelSpec spec = ModelConfig.Parse($$"""
            {"model_type": "qwen2", "vocab_size": 8, "hidden_size": {{inDim}}, "intermediate_size": {{outDim}}, "num_hidden_layers": 1,
             "num_attention_heads": {{heads}}, "num_key_value_heads": 2, "rms_norm_eps": 1e-5}
            """);
        int rows = op == Projection.NormGateUp ? 2 * outDim : outDim;
        var rng = new Random(3);
        float[] Random(int n, double scale, double offset = 0) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale + offset)).ToArray();
        float[] x = Random(tokens * inDim, 2), norm = Random(inDim, 0.5, 1), residual = Random(tokens * outDim, 1), b = Random(rows, 0.5);
        float[] w = Random(rows * inDim, 1).Select(RandomModel.RoundToBf16).ToArray();

        using var backend = IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8, multiprocessors);
        var kernels = backend.CreateKernels(new RuntimeDims(spec), new RunnerOptions(tokens, 1, new KvCacheLayout(1, 4), 8));
        var weight = backend.CreateWeight(new Specialized.Weights.Parameter("w", [rows, inDim]), DType.BFloat16, new Values(w));
        var bias = backend.CreateWeight(new Specialized.Weights.Parameter("b", [rows]), DType.Float32, new Values(b));
        var normWeight = backend.CreateWeight(new Specialized.Weights.Parameter("n", [inDim]), DType.Float32, new Values(norm));
        var input = (IlgpuTensor)backend.CreateActivations(tokens, inDim);
        var output = (IlgpuTensor)backend.CreateActivations(tokens, outDim);
        Tensor normed = backend.CreateActivations(tokens, inDim), gateUp = backend.CreateActivations(tokens, rows), scratch = backend.CreateActivations(tokens, outDim);
        input.F32.CopyFromCPU(x);
        output.F32.CopyFromCPU(residual);
        var batch = new ForwardBatch(new int[tokens], Enumerable.Range(0, tokens).ToArray(), [0, tokens], [0], [[0]], 256, []);
        switch (op)
        {
            case Projection.LinearAdd: kernels.LinearAdd(batch, input, weight, scratch, output); break;
            default: kernels.NormGateUp(batch, input, normWeight, normed, weight, gateUp, output); break;
        }
        var y = new float[tokens * outDim];
        backend.CopyRows(output, tokens, y);

        for (int t = 0; t < tokens; t++)
        {
            // The input row as the projection sees it: RMS-normalized (in float64) unless added into the residual.
            double[] row = x.Skip(t * inDim).Take(inDim).Select(v => (double)v).ToArray();
            if (op == Projection.NormGateUp)
            {
                double inv = 1 / Math.Sqrt(row.Sum(v => v * v) / inDim + 1e-5);
                row = row.Select((v, k) => v * inv * norm[k]).ToArray();
            }
            // A weight row's dot product and, for its error bound, Σ|x·w|: the split tensor-core terms carry x to
            // 2^-16 of its size (their test argues it), float32 sums drift by far less, so 2^-15 of Σ|x·w| bounds every
            // kernel's error while a wrong index, a missing norm or bias is off by O(1) of it.
            (double Value, double Bound) Dot(int r)
            {
                double sum = 0, magnitude = 0;
                for (int k = 0; k < inDim; k++)
                {
                    sum += row[k] * w[r * inDim + k];
                    magnitude += Math.Abs(row[k] * w[r * inDim + k]);
                }
                return (sum, magnitude * Math.Pow(2, -15) + 1e-6);
            }
            for (int o = 0; o < outDim; o++)
            {
                double expected, tolerance;
                if (op == Projection.NormGateUp)
                {
                    (double g, double eg) = Dot(o);
                    (double u, double eu) = Dot(o + outDim);
                    double silu = g / (1 + Math.Exp(-g));
                    expected = silu * u;
                    tolerance = 1.1 * Math.Abs(u) * eg + Math.Abs(silu) * eu;   // silu' lies within [-0.1, 1.1]
                }
                else
                {
                    (double v, double e) = Dot(o);
                    expected = residual[t * outDim + o] + v;
                    tolerance = e + 1e-6;
                }
                double actual = y[t * outDim + o];
                Assert.True(Math.Abs(expected - actual) < tolerance, $"[{t}, {o}]: {actual} vs {expected} (tolerance {tolerance:E1})");
            }
        }
    }

    [Fact]
    public void Bf16_activations_round_the_tensor_core_gemm_inputs_and_the_default_does_not()
    {
        // 130 tokens over 64 inputs take the tensor-core GEMM (128+ tokens, whole 32-deep slices).
        const int tokens = 130, inDim = 64, outDim = 40;
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 8, "hidden_size": 64, "intermediate_size": 64, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2}
            """);
        var rng = new Random(5);
        float[] x = Enumerable.Range(0, tokens * inDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] w = Enumerable.Range(0, outDim * inDim).Select(_ => RandomModel.RoundToBf16((float)(rng.NextDouble() * 2 - 1))).ToArray();

        double[] RelativeErrors(bool bf16)
        {
            using var backend = IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8);
            var kernels = backend.CreateKernels(new RuntimeDims(spec), new RunnerOptions(tokens, 1, new KvCacheLayout(1, 4), 8, Bf16Activations: bf16));
            var weight = backend.CreateWeight(new Specialized.Weights.Parameter("w", [outDim, inDim]), DType.BFloat16, new Values(w));
            var input = (IlgpuTensor)backend.CreateActivations(tokens, inDim);
            var output = (IlgpuTensor)backend.CreateActivations(tokens, outDim);
            input.F32.CopyFromCPU(x);
            output.F32.CopyFromCPU(new float[tokens * outDim]);   // the projection adds into it
            kernels.LinearAdd(new ForwardBatch(new int[tokens], Enumerable.Range(0, tokens).ToArray(), [0, tokens], [0], [[0]], 256, []), input, weight,
                backend.CreateActivations(tokens, outDim), output);
            var y = new float[tokens * outDim];
            backend.CopyRows(output, tokens, y);
            // Each output's error against float64, relative to Σ|x·w|.
            return Enumerable.Range(0, tokens * outDim).Select(i =>
            {
                int t = i / outDim, o = i % outDim;
                double exact = 0, magnitude = 0;
                for (int k = 0; k < inDim; k++)
                {
                    double product = (double)x[t * inDim + k] * w[o * inDim + k];
                    exact += product;
                    magnitude += Math.Abs(product);
                }
                return Math.Abs(y[i] - exact) / magnitude;
            }).ToArray();
        }

        // Two bf16 terms carry x to 2^-16 (plus 64 float32 additions, 2^-18): near float32. One bf16 rounding errs by
        // up to 2^-9 an input, and over 5,200 outputs of 64 random inputs by well above 2^-12 somewhere.
        double[] split = RelativeErrors(bf16: false), rounded = RelativeErrors(bf16: true);
        Assert.True(split.Max() < Math.Pow(2, -16) + Math.Pow(2, -18), $"split: {split.Max():E2}");
        Assert.True(rounded.Max() < Math.Pow(2, -8) + Math.Pow(2, -18), $"rounded: {rounded.Max():E2}");
        Assert.True(rounded.Max() > Math.Pow(2, -12), $"rounded: {rounded.Max():E2}: the inputs were not rounded");
    }

    [Fact]
    public void Argmax_on_the_device_picks_the_lowest_index_among_ties()
    {
        const int rows = 3, width = 1000;
        var rng = new Random(4);
        float[] logits = Enumerable.Range(0, rows * width).Select(_ => (float)rng.NextDouble()).ToArray();
        logits[0 * width + 700] = 5f;
        logits[1 * width + 3] = 7f;
        logits[1 * width + 999] = 7f;  // a tie: the lower index wins, as on the host
        logits[2 * width + 999] = 9f;
        using var backend = IlgpuBackend.CreateCpuSimulator();
        var tensor = (IlgpuTensor)backend.CreateActivations(rows, width);
        tensor.F32.CopyFromCPU(logits);
        var picked = new int[rows];
        backend.ArgMaxRows(tensor, rows, picked);
        Assert.Equal([700, 3, 999], picked);
    }

    internal sealed class Values(float[] values) : IWeightSource
    {
        public void WriteFloat32(Span<float> destination) => values.CopyTo(destination);

        public void WriteBFloat16(Span<ushort> destination)
        {
            for (int i = 0; i < values.Length; i++) destination[i] = (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16);
        }
    }
}
