using ILGPU;
using ILGPU.Runtime;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The attention's input on each kernel that makes it (the GEMV with RoPE and the KV write in its epilogue; the SIMT and
/// tensor-core GEMMs followed by the RoPE kernel), on a simulator with 256-thread groups: a prompt, then one decode
/// token. q | k | v against float64 (rotated with the backends' own float32 tables); what went into the paged KV cache
/// through the decode token's attention over all of it, against the CPU backend doing the same steps.
/// </summary>
public sealed class NormQkvTests
{
    private const int PageSize = 4;

    [Theory]
    // The rotary GEMV: 6 prompt tokens (a warp's block of 4 and a ragged block of 2), then the decode token.
    [InlineData(6, 64, 1, KvCacheDtype.Float32)]
    [InlineData(6, 64, 1, KvCacheDtype.BFloat16)]
    // One prompt token: each rotary pair's row split over a group's warps to fill 4 SMs.
    [InlineData(1, 64, 4, KvCacheDtype.Float32)]
    // The SIMT GEMM (a 40-wide hidden state is not whole 32-deep slices), then the RoPE kernel.
    [InlineData(130, 40, 1, KvCacheDtype.Float32)]
    // The tensor-core GEMM, then the RoPE kernel.
    [InlineData(130, 64, 4, KvCacheDtype.Float32)]
    [InlineData(130, 64, 4, KvCacheDtype.BFloat16)]
    public void The_projection_is_rotated_and_its_keys_and_values_are_cached(int prompt, int hidden, int multiprocessors, KvCacheDtype dtype)
    {
        // 64 wide: 4 heads of 16, 2 KV heads; 40 wide: 5 heads of 8, 1 KV head.
        (int heads, int kvHeads) = hidden == 64 ? (4, 2) : (5, 1);
        var dims = new RuntimeDims(ModelConfig.Parse($$"""
            {"model_type": "qwen2", "vocab_size": 8, "hidden_size": {{hidden}}, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
            """));
        int width = dims.QkvSize, tokens = prompt + 1;
        var rng = new Random(7);
        float[] Random(int n, double scale, double offset = 0) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale + offset)).ToArray();
        // Weights of ±1/√hidden keep q, k and v near 1, so attention's scores are neither flat nor one-hot.
        float[] x = Random(tokens * hidden, 2), norm = Random(hidden, 0.5, 1), bias = Random(width, 0.2);
        float[] w = Random(width * hidden, 1 / Math.Sqrt(hidden)).Select(RandomModel.RoundToBf16).ToArray();

        // The sequence's pages out of order, so its slots are not its positions.
        int pages = (tokens + PageSize - 1) / PageSize;
        int[] table = Enumerable.Range(0, pages).Select(p => (3 * p + 1) % (pages + 2)).ToArray();
        var promptStep = new ForwardBatch(new int[prompt], Enumerable.Range(0, prompt).ToArray(), [0, prompt], [0], [table], PageSize, [prompt - 1]);
        var decodeStep = new ForwardBatch([0], [prompt], [0, 1], [prompt], [table], PageSize, [0]);
        var options = new RunnerOptions(prompt, 1, new KvCacheLayout(pages + 2, PageSize, dtype), pages * PageSize);

        using var cpu = new CpuBackend();
        using var gpu = IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8, multiprocessors);
        Steps expected = Run(cpu, dims, options, x, norm, w, bias, promptStep, decodeStep);
        Steps actual = Run(gpu, dims, options, x, norm, w, bias, promptStep, decodeStep);

        // q | k | v: the projection of the normed row in float64, its q and k pairs (i, i + d/2) rotated with the
        // float32 tables. Each sum is within 2^-15 of its Σ|x·w| on every kernel (IlgpuGemmTests argues it), and a
        // rotation mixes two sums with weights of at most 1, so their two bounds add.
        var rotary = RotaryTable.For(dims, options.MaxPositions);
        int d = dims.HeadDim, half = d / 2;
        for (int t = 0; t < tokens; t++)
        {
            double[] row = x.Skip(t * hidden).Take(hidden).Select(v => (double)v).ToArray();
            double inv = 1 / Math.Sqrt(row.Sum(v => v * v) / hidden + 1e-5);
            row = row.Select((v, k) => v * inv * norm[k]).ToArray();
            (double Value, double Bound) Dot(int r)
            {
                double sum = bias[r], magnitude = 0;
                for (int k = 0; k < hidden; k++)
                {
                    sum += row[k] * w[r * hidden + k];
                    magnitude += Math.Abs(row[k] * w[r * hidden + k]);
                }
                return (sum, magnitude * Math.Pow(2, -15) + 1e-6);
            }
            float[] qkv = t < prompt ? actual.PromptQkv : actual.DecodeQkv;
            int at = (t < prompt ? t : 0) * width;
            for (int head = 0; head < width / d; head++)
            {
                for (int i = 0; i < half; i++)
                {
                    int r1 = head * d + i, r2 = r1 + half;
                    (double a, double ea) = Dot(r1);
                    (double b, double eb) = Dot(r2);
                    if (head < dims.NumHeads + dims.NumKvHeads)
                    {
                        double c = rotary.Cos[t * half + i], s = rotary.Sin[t * half + i];
                        (a, b) = (a * c - b * s, b * c + a * s);
                    }
                    Assert.True(Math.Abs(qkv[at + r1] - a) < ea + eb, $"token {t}, head {head}, element {i}: {qkv[at + r1]} vs {a}");
                    Assert.True(Math.Abs(qkv[at + r2] - b) < ea + eb, $"token {t}, head {head}, element {i + half}: {qkv[at + r2]} vs {b}");
                }
            }
        }

        // The cache, through the decode token's attention over every key and value. float32: both sides' keys and values agree to ~1e-5, so their attention
        // outputs to well under 1e-4 (AttentionComparison argues the kernels' own error). bf16: each side rounds its own
        // value, and where the two fall on either side of a rounding boundary they differ by one bf16 step, 2^-8 of the
        // largest value at most. A key or value in the wrong slot, or missing, moves outputs by about a value, ~0.3.
        double largest = expected.PromptQkv.Concat(expected.DecodeQkv).Max(Math.Abs);
        double tolerance = 1e-4 + (dtype == KvCacheDtype.BFloat16 ? Math.Pow(2, -8) * largest : 0);
        for (int i = 0; i < dims.QSize; i++)
        {
            Assert.True(Math.Abs(expected.DecodeAttention[i] - actual.DecodeAttention[i]) < tolerance,
                $"attention element {i}: {actual.DecodeAttention[i]} vs {expected.DecodeAttention[i]}");
        }
    }

    private sealed record Steps(float[] PromptQkv, float[] DecodeQkv, float[] DecodeAttention);

    private static Steps Run(IBackend backend, RuntimeDims dims, RunnerOptions options, float[] x, float[] norm, float[] w, float[] bias,
        ForwardBatch promptStep, ForwardBatch decodeStep)
    {
        IQwen2Kernels<RuntimeDims> kernels = backend.CreateKernels(dims, options);
        int hidden = dims.HiddenSize, width = dims.QkvSize;
        Tensor weight = backend.CreateWeight(new Specialized.Weights.Parameter("w", [width, hidden]), DType.BFloat16, new IlgpuGemmTests.Values(w));
        Tensor b = backend.CreateWeight(new Specialized.Weights.Parameter("b", [width]), DType.Float32, new IlgpuGemmTests.Values(bias));
        Tensor n = backend.CreateWeight(new Specialized.Weights.Parameter("n", [hidden]), DType.Float32, new IlgpuGemmTests.Values(norm));
        (float[] Qkv, float[] Attention) Step(ForwardBatch step, float[] rows, bool attend)
        {
            int tokens = step.TokenCount;
            Tensor residual = backend.CreateActivations(tokens, hidden), normed = backend.CreateActivations(tokens, hidden);
            Tensor qkv = backend.CreateActivations(tokens, width), output = backend.CreateActivations(tokens, dims.QSize);
            if (residual is IlgpuTensor device) device.F32.SubView(0, rows.Length).CopyFromCPU(rows);
            else rows.CopyTo(((CpuTensor)residual).F32);
            kernels.NormQkv(step, 0, residual, n, normed, weight, b, qkv);
            float[] q = new float[tokens * width], o = new float[tokens * dims.QSize];
            backend.CopyRows(qkv, tokens, q);
            if (!attend) return (q, o);
            kernels.Attention(step, 0, 0, qkv, output);
            backend.CopyRows(output, tokens, o);
            return (q, o);
        }
        int prompt = promptStep.TokenCount;
        var (promptQkv, _) = Step(promptStep, x[..(prompt * hidden)], attend: false);
        var (decodeQkv, decodeAttention) = Step(decodeStep, x[(prompt * hidden)..], attend: true);
        return new Steps(promptQkv, decodeQkv, decodeAttention);
    }
}
