using System.Buffers;
using System.Numerics.Tensors;
using Specialized.Models;

namespace Specialized.Backends.Cpu;

/// <summary>
/// The managed CPU backend's kernels: float32 activations and KV cache, bfloat16 (or float32) weights, SIMD inner
/// loops, Parallel.For over rows. It is both the default where no GPU exists and the numerical reference the GPU
/// kernels are checked against, so it follows Hugging Face's float32 Qwen2 math step for step. Vectors (norm
/// weights, biases) are float32; matrices are bfloat16 or float32, as the checkpoint stores them.
/// </summary>
public sealed class CpuKernels<TDims> : IQwen2Kernels<TDims> where TDims : struct, IQwen2Dims
{
    /// <summary>Output rows per parallel work item: enough work to amortise scheduling, small enough to balance.</summary>
    private const int RowsPerTask = 32;

    private readonly TDims _dims;
    private readonly RotaryTable _rope;
    private readonly float[][] _keys;
    private readonly float[][] _values;

    public CpuKernels(TDims dims, KvCacheLayout kv, int maxPositions)
    {
        _dims = dims;
        Kv = kv;
        _rope = RotaryTable.For(dims, maxPositions);
        long slotsTimesWidth = (long)kv.Slots * dims.KvSize;
        if (slotsTimesWidth > Array.MaxLength) throw new ArgumentException("The KV cache is too large for one array per layer.", nameof(kv));
        _keys = new float[dims.NumLayers][];
        _values = new float[dims.NumLayers][];
        for (int l = 0; l < dims.NumLayers; l++)
        {
            _keys[l] = new float[slotsTimesWidth];
            _values[l] = new float[slotsTimesWidth];
        }
    }

    public KvCacheLayout Kv { get; }

    public void Embed(ForwardBatch batch, Tensor table, Tensor output)
    {
        CpuTensor t = CpuTensor.Of(table), o = CpuTensor.Of(output);
        int h = _dims.HiddenSize;
        for (int i = 0; i < batch.TokenCount; i++)
        {
            int id = batch.TokenIds[i];
            if ((uint)id >= (uint)_dims.VocabSize) throw new ArgumentOutOfRangeException(nameof(batch), $"Token id {id} is outside the vocabulary of {_dims.VocabSize}.");
            Span<float> dst = o.F32.Slice(i * h, h);
            if (t.DType == DType.BFloat16) CpuMath.Widen(t.B16.Slice(id * h, h), dst);
            else t.F32.Slice(id * h, h).CopyTo(dst);
        }
    }

    public void RmsNorm(ForwardBatch batch, Tensor input, Tensor weight, Tensor output)
    {
        CpuTensor x = CpuTensor.Of(input), w = CpuTensor.Of(weight), y = CpuTensor.Of(output);
        ForRows(batch.TokenCount, 8, row => NormRow(x.F32.Slice(row * _dims.HiddenSize, _dims.HiddenSize), w, y.F32.Slice(row * _dims.HiddenSize, _dims.HiddenSize)));
    }

    /// <summary>The norm in a pass of its own into <paramref name="normed"/>, the projection, then RoPE and the KV write.</summary>
    public void NormQkv(ForwardBatch batch, int layer, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor? bias, Tensor qkv)
    {
        RmsNorm(batch, residual, norm, normed);
        Linear(batch, normed, weight, bias, qkv);
        RopeAndStoreKv(batch, layer, qkv);
    }

    /// <summary>The projection into <paramref name="scratch"/>, then the add: Hugging Face's order of operations.</summary>
    public void LinearAdd(ForwardBatch batch, Tensor input, Tensor weight, Tensor scratch, Tensor residual)
    {
        Linear(batch, input, weight, null, scratch);
        CpuTensor r = CpuTensor.Of(residual), x = CpuTensor.Of(scratch);
        int h = _dims.HiddenSize;
        ForRows(batch.TokenCount, 8, row =>
        {
            Span<float> res = r.F32.Slice(row * h, h);
            TensorPrimitives.Add(res, x.F32.Slice(row * h, h), res);
        });
    }

    public void NormGateUp(ForwardBatch batch, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor gateUp, Tensor activated)
    {
        RmsNorm(batch, residual, norm, normed);
        Linear(batch, normed, weight, null, gateUp);
        SiluMul(batch, gateUp, activated);
    }

    /// <summary>y = x / sqrt(mean(x²) + eps) * w, in Hugging Face's order: normalise, then scale.</summary>
    private void NormRow(ReadOnlySpan<float> x, CpuTensor weight, Span<float> y)
    {
        float meanSquare = TensorPrimitives.SumOfSquares(x) / x.Length;
        float inv = 1f / MathF.Sqrt(meanSquare + _dims.RmsNormEps);
        TensorPrimitives.Multiply(x, inv, y);
        TensorPrimitives.Multiply(y, weight.F32, y);
    }

    /// <summary>output = input x weightᵀ (+ bias). input [T, in], weight [out, in], output [T, out].</summary>
    private void Linear(ForwardBatch batch, Tensor input, Tensor weight, Tensor? bias, Tensor output)
    {
        CpuTensor x = CpuTensor.Of(input), w = CpuTensor.Of(weight), y = CpuTensor.Of(output);
        CpuTensor? b = bias is null ? null : CpuTensor.Of(bias);
        int inDim = w.Shape[1], outDim = w.Shape[0], tokens = batch.TokenCount;
        float[] xs = x.Floats!, ys = y.Floats!;
        float[]? biasValues = b?.Floats;

        int chunks = (outDim + RowsPerTask - 1) / RowsPerTask;
        Parallel.For(0, chunks, chunk =>
        {
            int end = Math.Min(outDim, (chunk + 1) * RowsPerTask);
            for (int o = chunk * RowsPerTask; o < end; o++)
            {
                float add = biasValues?[o] ?? 0f;
                if (w.DType == DType.BFloat16)
                {
                    ReadOnlySpan<ushort> row = w.B16.Slice(o * inDim, inDim);
                    int t = 0;
                    for (; t + 4 <= tokens; t += 4)
                    {
                        CpuMath.Dot4(row, xs.AsSpan(t * inDim, inDim), xs.AsSpan((t + 1) * inDim, inDim),
                            xs.AsSpan((t + 2) * inDim, inDim), xs.AsSpan((t + 3) * inDim, inDim),
                            out float y0, out float y1, out float y2, out float y3);
                        ys[t * outDim + o] = y0 + add;
                        ys[(t + 1) * outDim + o] = y1 + add;
                        ys[(t + 2) * outDim + o] = y2 + add;
                        ys[(t + 3) * outDim + o] = y3 + add;
                    }
                    for (; t < tokens; t++) ys[t * outDim + o] = CpuMath.Dot(xs.AsSpan(t * inDim, inDim), row) + add;
                }
                else
                {
                    ReadOnlySpan<float> row = w.F32.Slice(o * inDim, inDim);
                    for (int t = 0; t < tokens; t++) ys[t * outDim + o] = CpuMath.Dot(xs.AsSpan(t * inDim, inDim), row) + add;
                }
            }
        });
    }

    public void RopeAndStoreKv(ForwardBatch batch, int layer, Tensor qkv)
    {
        CpuTensor a = CpuTensor.Of(qkv);
        int d = _dims.HeadDim, half = d / 2, width = _dims.QkvSize, kvSize = _dims.KvSize;
        int qHeads = _dims.NumHeads, kvHeads = _dims.NumKvHeads;
        float[] k = _keys[layer], v = _values[layer];
        bool bf16 = Kv.Dtype == KvCacheDtype.BFloat16;
        ForRows(batch.TokenCount, 4, t =>
        {
            int pos = batch.Positions[t];
            if ((uint)pos >= (uint)_rope.MaxPositions) throw new ArgumentOutOfRangeException(nameof(batch), $"Position {pos} is past the context of {_rope.MaxPositions}.");
            ReadOnlySpan<float> cos = _rope.Cos.AsSpan(pos * half, half), sin = _rope.Sin.AsSpan(pos * half, half);
            Span<float> row = a.F32.Slice(t * width, width);
            for (int h = 0; h < qHeads + kvHeads; h++) Rotate(row.Slice(h * d, d), cos, sin);

            int slot = batch.Slot(batch.TokenSequence[t], pos);
            Span<float> key = k.AsSpan(slot * kvSize, kvSize), value = v.AsSpan(slot * kvSize, kvSize);
            row.Slice(qHeads * d, kvSize).CopyTo(key);
            row.Slice(qHeads * d + kvSize, kvSize).CopyTo(value);
            if (bf16)
            {
                // A bf16 cache: the stored values rounded as the GPU's stores them (the arrays stay float32).
                for (int i = 0; i < kvSize; i++)
                {
                    key[i] = BFloat16.ToSingle(BFloat16.FromSingle(key[i]));
                    value[i] = BFloat16.ToSingle(BFloat16.FromSingle(value[i]));
                }
            }
        });
    }

    /// <summary>Neox rotation: element i pairs with element i + d/2; (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin).</summary>
    private static void Rotate(Span<float> head, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int i = 0; i < half; i++)
        {
            float x1 = head[i], x2 = head[i + half];
            head[i] = x1 * cos[i] - x2 * sin[i];
            head[i + half] = x2 * cos[i] + x1 * sin[i];
        }
    }

    public void Attention(ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output)
    {
        CpuTensor a = CpuTensor.Of(qkv), o = CpuTensor.Of(output);
        int d = _dims.HeadDim, heads = _dims.NumHeads, group = _dims.GroupSize, width = _dims.QkvSize, kvSize = _dims.KvSize;
        float scale = 1f / MathF.Sqrt(d);
        float[] keys = _keys[layer], values = _values[layer];
        int tokens = batch.TokenCount;

        Parallel.For(0, tokens * heads, item =>
        {
            int t = item / heads, h = item % heads, kvh = h / group;
            int seq = batch.TokenSequence[t], pos = batch.Positions[t];
            int first = slidingWindow > 0 ? Math.Max(0, pos - slidingWindow + 1) : 0;
            int count = pos - first + 1;
            ReadOnlySpan<float> q = a.F32.Slice(t * width + h * d, d);
            float[] scores = ArrayPool<float>.Shared.Rent(count);
            for (int j = 0; j < count; j++)
            {
                int slot = batch.Slot(seq, first + j);
                scores[j] = TensorPrimitives.Dot(q, keys.AsSpan(slot * kvSize + kvh * d, d)) * scale;
            }
            Span<float> s = scores.AsSpan(0, count);
            TensorPrimitives.SoftMax(s, s);
            Span<float> dst = o.F32.Slice(t * _dims.QSize + h * d, d);
            dst.Clear();
            for (int j = 0; j < count; j++)
            {
                int slot = batch.Slot(seq, first + j);
                TensorPrimitives.MultiplyAdd(values.AsSpan(slot * kvSize + kvh * d, d), s[j], dst, dst);
            }
            ArrayPool<float>.Shared.Return(scores);
        });
    }

    /// <summary>output = silu(gate) * up, where gateUp [T, gate | up] and output [T, intermediate].</summary>
    private void SiluMul(ForwardBatch batch, Tensor gateUp, Tensor output)
    {
        CpuTensor gu = CpuTensor.Of(gateUp), y = CpuTensor.Of(output);
        int n = _dims.IntermediateSize;
        ForRows(batch.TokenCount, 4, t =>
        {
            ReadOnlySpan<float> gate = gu.F32.Slice(t * 2 * n, n), up = gu.F32.Slice(t * 2 * n + n, n);
            Span<float> dst = y.F32.Slice(t * n, n);
            for (int i = 0; i < n; i++)
            {
                float g = gate[i];
                dst[i] = g / (1f + MathF.Exp(-g)) * up[i];
            }
        });
    }

    public void Logits(ForwardBatch batch, Tensor input, Tensor weight, Tensor logits)
    {
        CpuTensor x = CpuTensor.Of(input), w = CpuTensor.Of(weight), y = CpuTensor.Of(logits);
        int h = _dims.HiddenSize, vocab = _dims.VocabSize;
        int[] rows = batch.LogitRows;
        float[] xs = x.Floats!, ys = y.Floats!;
        int chunks = (vocab + 255) / 256;
        Parallel.For(0, chunks, chunk =>
        {
            int end = Math.Min(vocab, (chunk + 1) * 256);
            for (int v = chunk * 256; v < end; v++)
            {
                for (int r = 0; r < rows.Length; r++)
                {
                    ReadOnlySpan<float> xr = xs.AsSpan(rows[r] * h, h);
                    ys[r * vocab + v] = w.DType == DType.BFloat16 ? CpuMath.Dot(xr, w.B16.Slice(v * h, h)) : CpuMath.Dot(xr, w.F32.Slice(v * h, h));
                }
            }
        });
    }

    /// <summary>Reads back a layer's cached key or value vector (for tests).</summary>
    internal ReadOnlySpan<float> CachedKey(int layer, int slot) => _keys[layer].AsSpan(slot * _dims.KvSize, _dims.KvSize);

    /// <summary>Runs body(row) for every row, in parallel once there are enough rows to pay for it.</summary>
    private static void ForRows(int rows, int parallelFrom, Action<int> body)
    {
        if (rows < parallelFrom)
        {
            for (int r = 0; r < rows; r++) body(r);
        }
        else Parallel.For(0, rows, body);
    }
}
