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

/// <summary>The tiled GEMM that prefill-sized batches use and the decode GEMV, on a simulator with 256-thread groups, against float64.</summary>
public sealed class IlgpuGemmTests
{
    [Theory]
    // 70 tokens, 40 inputs, 72 outputs: the tiled GEMM, none a multiple of the 64 x 64 x 32 tiles, so every edge path runs.
    [InlineData(70, 40, 72)]
    // 6 tokens (one warp's block of 4 and a ragged block of 2) over 1,000 inputs: the GEMV, whose lanes read four
    // 8-weight pieces a round, here 125 pieces a row, so the last round is ragged across the lanes.
    [InlineData(6, 1000, 24)]
    public void Linear_matches_a_float64_product_with_ragged_tiles(int tokens, int inDim, int outDim)
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 8, "hidden_size": 40, "intermediate_size": 72, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2}
            """);
        var rng = new Random(3);
        float[] x = Enumerable.Range(0, tokens * inDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] w = Enumerable.Range(0, outDim * inDim).Select(_ => RandomModel.RoundToBf16((float)(rng.NextDouble() * 2 - 1))).ToArray();
        float[] b = Enumerable.Range(0, outDim).Select(_ => (float)rng.NextDouble()).ToArray();

        using var backend = IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8);
        var kernels = backend.CreateKernels(new RuntimeDims(spec), new RunnerOptions(tokens, 1, new KvCacheLayout(1, 4), 8));
        var weight = backend.CreateWeight(new Specialized.Weights.Parameter("w", [outDim, inDim]), DType.BFloat16, new Values(w));
        var bias = backend.CreateWeight(new Specialized.Weights.Parameter("b", [outDim]), DType.Float32, new Values(b));
        var input = (IlgpuTensor)backend.CreateActivations(tokens, inDim);
        var output = backend.CreateActivations(tokens, outDim);
        input.F32.CopyFromCPU(x);
        var batch = new ForwardBatch(new int[tokens], Enumerable.Range(0, tokens).ToArray(), [0, tokens], [0], [[0]], 128, []);

        kernels.Linear(batch, input, weight, bias, output);
        var y = new float[tokens * outDim];
        backend.CopyRows(output, tokens, y);

        // A float32 sum of n products of size ~1 drifts from the float64 value by ~2^-24 of the partial sums a term:
        // ~1e-5 for 40 inputs, ~1e-4 for 1,000; 2e-6 an input bounds both with room.
        double tolerance = 2e-6 * inDim;
        for (int t = 0; t < tokens; t++)
        {
            for (int o = 0; o < outDim; o++)
            {
                double expected = b[o];
                for (int k = 0; k < inDim; k++) expected += (double)x[t * inDim + k] * w[o * inDim + k];
                Assert.True(Math.Abs(expected - y[t * outDim + o]) < tolerance, $"[{t}, {o}]: {y[t * outDim + o]} vs {expected}");
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
            var output = backend.CreateActivations(tokens, outDim);
            input.F32.CopyFromCPU(x);
            kernels.Linear(new ForwardBatch(new int[tokens], Enumerable.Range(0, tokens).ToArray(), [0, tokens], [0], [[0]], 256, []), input, weight, null, output);
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

    private sealed class Values(float[] values) : IWeightSource
    {
        public void WriteFloat32(Span<float> destination) => values.CopyTo(destination);

        public void WriteBFloat16(Span<ushort> destination)
        {
            for (int i = 0; i < values.Length; i++) destination[i] = (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16);
        }
    }
}
