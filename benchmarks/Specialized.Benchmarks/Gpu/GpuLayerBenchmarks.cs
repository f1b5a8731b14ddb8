using BenchmarkDotNet.Attributes;
using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Benchmarks.Gpu;

/// <summary>
/// Each operation of one Qwen2.5-0.5B layer through the kernel seam on CUDA, as the model runner calls them: a
/// 1024-token prefill of one sequence, and a decode step of 64 sequences at position 1023. Together they show where a
/// layer's time goes (times 24 layers is a step). Each operation is <see cref="Launches"/> calls and one small read-back.
/// Weights and activations are random: the kernels' times don't depend on the values.
/// </summary>
[Config(typeof(GpuJobConfig))]
public class GpuLayerBenchmarks
{
    private const int Launches = 4, PageSize = 16, Context = 1024, DecodeBatch = 64;

    private IlgpuBackend _backend = null!;
    private IQwen2Kernels<Qwen2_5_0_5B_Instruct.Dims> _kernels = null!;
    private ForwardBatch _batch = null!;
    private Tensor _table = null!, _norm = null!, _qkvWeight = null!, _qkvBias = null!, _oWeight = null!, _gateUpWeight = null!, _downWeight = null!;
    private Tensor _residual = null!, _normed = null!, _qkv = null!, _attention = null!, _hidden = null!, _gateUp = null!, _activated = null!;
    private readonly float[] _row = new float[16];

    [Params("prefill 1024", "decode 64 at 1023")]
    public string Step { get; set; } = null!;

    /// <summary>The seam's calls: qkv and gate_up (with SiLU) include their RMSNorm, o and down add into the residual.</summary>
    [Params("embed", "qkv", "rope_kv", "attention", "o", "gate_up", "down", "final_norm")]
    public string Op { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dims = default(Qwen2_5_0_5B_Instruct.Dims);
        bool prefill = Step.StartsWith("prefill", StringComparison.Ordinal);
        int tokens = prefill ? Context : DecodeBatch;
        int pagesPerSequence = Context / PageSize + 1;
        int sequences = prefill ? 1 : DecodeBatch;
        _backend = IlgpuBackend.CreateCuda();
        _kernels = _backend.CreateKernels(dims, new RunnerOptions(tokens, tokens, new KvCacheLayout(sequences * pagesPerSequence, PageSize), Context + PageSize));
        int[][] pages = Enumerable.Range(0, sequences).Select(s => Enumerable.Range(s * pagesPerSequence, pagesPerSequence).ToArray()).ToArray();
        _batch = prefill
            ? new ForwardBatch(Ids(tokens), Enumerable.Range(0, tokens).ToArray(), [0, tokens], [0], pages, PageSize, [tokens - 1])
            : new ForwardBatch(Ids(tokens), Enumerable.Repeat(Context - 1, tokens).ToArray(), Enumerable.Range(0, tokens + 1).ToArray(),
                Enumerable.Repeat(Context - 1, tokens).ToArray(), pages, PageSize, Enumerable.Range(0, tokens).ToArray());

        var rng = new Random(1);
        Tensor Weight(string name, params int[] shape) =>
            _backend.CreateWeight(new Parameter(name, shape), shape.Length == 2 ? DType.BFloat16 : DType.Float32, new RandomValues(rng, 0.05f));
        _table = Weight("embed", dims.VocabSize, dims.HiddenSize);
        _norm = Weight("norm", dims.HiddenSize);
        _qkvWeight = Weight("qkv", dims.QkvSize, dims.HiddenSize);
        _qkvBias = Weight("qkv_bias", dims.QkvSize);
        _oWeight = Weight("o", dims.HiddenSize, dims.QSize);
        _gateUpWeight = Weight("gate_up", 2 * dims.IntermediateSize, dims.HiddenSize);
        _downWeight = Weight("down", dims.HiddenSize, dims.IntermediateSize);
        _residual = _backend.CreateActivations(tokens, dims.HiddenSize);
        _normed = _backend.CreateActivations(tokens, dims.HiddenSize);
        _qkv = _backend.CreateActivations(tokens, dims.QkvSize);
        _attention = _backend.CreateActivations(tokens, dims.QSize);
        _hidden = _backend.CreateActivations(tokens, dims.HiddenSize);
        _gateUp = _backend.CreateActivations(tokens, 2 * dims.IntermediateSize);
        _activated = _backend.CreateActivations(tokens, dims.IntermediateSize);
        // Fill every activation (and, for decode, the cached context) once, so no operation reads garbage.
        _kernels.Embed(_batch, _table, _residual);
        _kernels.NormQkv(_batch, 0, _residual, _norm, _normed, _qkvWeight, _qkvBias, _qkv);
        _kernels.Attention(_batch, 0, 0, _qkv, _attention);
        _kernels.NormGateUp(_batch, _residual, _norm, _normed, _gateUpWeight, _gateUp, _activated);
        _backend.CopyRows(_activated, 1, _row);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        (_kernels as IDisposable)?.Dispose();
        _backend.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Launches)]
    public float Run()
    {
        for (int i = 0; i < Launches; i++)
        {
            switch (Op)
            {
                case "embed": _kernels.Embed(_batch, _table, _residual); break;
                case "qkv": _kernels.NormQkv(_batch, 0, _residual, _norm, _normed, _qkvWeight, _qkvBias, _qkv); break;
                case "rope_kv": _kernels.RopeAndStoreKv(_batch, 0, _qkv); break;
                case "attention": _kernels.Attention(_batch, 0, 0, _qkv, _attention); break;
                case "o": _kernels.LinearAdd(_batch, _attention, _oWeight, _hidden, _residual); break;
                case "gate_up": _kernels.NormGateUp(_batch, _residual, _norm, _normed, _gateUpWeight, _gateUp, _activated); break;
                case "down": _kernels.LinearAdd(_batch, _activated, _downWeight, _hidden, _residual); break;
                case "final_norm": _kernels.RmsNorm(_batch, _residual, _norm, _normed); break;
                default: throw new ArgumentException($"Unknown op {Op}.");
            }
        }
        _backend.CopyRows(_residual, 1, _row);
        return _row[0];
    }

    private static int[] Ids(int count) => Enumerable.Range(0, count).Select(i => (i * 7919) % 151936).ToArray();

    private sealed class RandomValues(Random rng, float scale) : IWeightSource
    {
        public void WriteFloat32(Span<float> destination)
        {
            for (int i = 0; i < destination.Length; i++) destination[i] = (float)(rng.NextDouble() * 2 - 1) * scale + 1f;
        }

        public void WriteBFloat16(Span<ushort> destination)
        {
            for (int i = 0; i < destination.Length; i++) destination[i] = (ushort)(BitConverter.SingleToUInt32Bits((float)(rng.NextDouble() * 2 - 1) * scale) >> 16);
        }
    }
}
