using ILGPU;
using ILGPU.Runtime;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Backends.Ilgpu;
using Specialized.Models;

namespace Specialized.Tests.Backends;

/// <summary>
/// An attention step on ILGPU's CPU accelerator (groups of the kernel's warps, MMAs emulated from the PTX fragment
/// layouts) against the CPU backend's attention on the same q, k and v: each side stores the cached prefix and the
/// step's keys and values through its own RoPE kernel, then attends. Outputs are compared element by element, not
/// through logits, so one key wrongly masked or unmasked shows.
/// </summary>
internal static class AttentionComparison
{
    // q, k, v are uniform in [-1, 1]. Scores then have size ~1 (Σ|q·k|/√d ≈ √d/4), and the split bf16 terms carry each
    // operand to ~2^-17 with three products each, so a score is off by at most ~3·2^-18·1.4 ≈ 2e-5 and an output
    // element (a convex mix of v) by at most twice that plus the P·V split's ~1e-5: under 1e-4, float32 accumulation
    // included (both sides sum ~100 terms in float32). A key wrongly seen or hidden moves outputs by its weight,
    // ~1/context ≥ 1e-3 here, times |v - o| ~ 0.5: 5x the tolerance or more, on many elements at once.
    private const double Tolerance = 1e-4;

    /// <param name="groupSize">Threads a group of the simulated device: the kernel under test's group size.</param>
    /// <param name="multiprocessors">Simulated SMs: the attention splits keys until its groups fill twice as many.</param>
    /// <param name="dtype">The KV cache's elements, on both sides (the CPU backend rounds a bf16 cache's values as the GPU stores them).</param>
    public static void Compare(RuntimeDims dims, ForwardBatch prefix, ForwardBatch step, int window, int seed, int groupSize,
        int multiprocessors = 1, int pages = 40, KvCacheDtype dtype = KvCacheDtype.Float32)
    {
        var rng = new Random(seed);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] prefixQkv = Random(prefix.TokenCount * dims.QkvSize), stepQkv = Random(step.TokenCount * dims.QkvSize);
        int tokens = Math.Max(prefix.TokenCount, step.TokenCount);
        var options = new RunnerOptions(MaxBatchTokens: tokens, MaxLogitRows: 1, Kv: new KvCacheLayout(pages, step.PageSize, dtype),
            MaxPositions: pages * step.PageSize);

        using var cpu = new CpuBackend();
        using var gpu = IlgpuBackend.CreateCpuSimulator(groupSize / 32, multiprocessors);
        float[] expected = Attend(cpu, dims, options, prefix, prefixQkv, step, stepQkv, window);
        float[] actual = Attend(gpu, dims, options, prefix, prefixQkv, step, stepQkv, window);
        if (dtype == KvCacheDtype.BFloat16)
        {
            // The cache really rounds: each stored value moves by up to 2^-9 of itself, which the attention averages down to
            // ~6e-4 at most over these outputs, several times the tolerance.
            float[] unrounded = Attend(cpu, dims, options with { Kv = options.Kv with { Dtype = KvCacheDtype.Float32 } }, prefix, prefixQkv, step, stepQkv, window);
            double moved = expected.Zip(unrounded).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(moved > 3 * Tolerance, $"the bf16 cache moved the outputs by {moved} at most");
        }

        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            int token = i / dims.QSize, head = i % dims.QSize / dims.HeadDim;
            Assert.True(Math.Abs(expected[i] - actual[i]) < Tolerance,
                $"token {token}, head {head}, element {i % dims.HeadDim}: {actual[i]} vs {expected[i]}");
        }
    }

    public static RuntimeDims Dims(int heads, int kvHeads, int headDim) => new(ModelConfig.Parse($$"""
        {"model_type": "qwen2", "vocab_size": 8, "hidden_size": {{heads * headDim}}, "intermediate_size": 32, "num_hidden_layers": 1,
         "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}}
        """));

    private static float[] Attend(IBackend backend, RuntimeDims dims, RunnerOptions options, ForwardBatch prefix, float[] prefixQkv,
        ForwardBatch step, float[] stepQkv, int window)
    {
        IQwen2Kernels<RuntimeDims> kernels = backend.CreateKernels(dims, options);
        if (prefix.TokenCount > 0) kernels.RopeAndStoreKv(prefix, 0, Upload(backend, prefixQkv, prefix.TokenCount, dims.QkvSize));
        Tensor qkv = Upload(backend, stepQkv, step.TokenCount, dims.QkvSize);
        kernels.RopeAndStoreKv(step, 0, qkv);
        Tensor output = backend.CreateActivations(step.TokenCount, dims.QSize);
        kernels.Attention(step, 0, window, qkv, output);
        var result = new float[step.TokenCount * dims.QSize];
        backend.CopyRows(output, step.TokenCount, result);
        return result;
    }

    private static Tensor Upload(IBackend backend, float[] values, int rows, int columns)
    {
        Tensor t = backend.CreateActivations(rows, columns);
        if (t is IlgpuTensor device) device.F32.SubView(0, values.Length).CopyFromCPU(values);
        else values.CopyTo(((CpuTensor)t).F32);
        return t;
    }
}
