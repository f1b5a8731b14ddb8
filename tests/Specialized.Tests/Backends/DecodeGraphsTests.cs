using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// Decode steps padded for CUDA graphs: the padding itself, and a padded step on ILGPU's CPU accelerator (which runs
/// the padded launches directly, having no graphs) against the CPU backend on the unpadded step.
/// </summary>
public sealed class DecodeGraphsTests
{
    [Fact]
    public void Batch_sizes_are_powers_of_two_to_eight_then_multiples_of_eight_then_the_largest()
    {
        Assert.Equal([1, 2, 4, 8, 16, 24, 32, 40], DecodeGraphs.BatchSizes(40));
        Assert.Equal([1, 2, 4, 8, 12], DecodeGraphs.BatchSizes(12));
        Assert.Equal([1, 2, 3], DecodeGraphs.BatchSizes(3));
        Assert.Equal([1], DecodeGraphs.BatchSizes(1));
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 128)]
    [InlineData(1000, 1024)]
    [InlineData(1025, 2048)]
    public void Context_buckets_are_powers_of_two_from_64(int longest, int bucket) =>
        Assert.Equal(bucket, DecodeGraphs.ContextBucket(longest));

    [Fact]
    public void Only_decode_steps_with_one_logit_row_per_sequence_in_order_are_served()
    {
        using var graphs = new DecodeGraphs(maxBatch: 4, scratchPage: 9);
        int[][] pages = [[0], [1], [2]];
        Assert.True(graphs.Serves(new ForwardBatch([1, 2], [5, 3], [0, 1, 2], [5, 3], pages[..2], 16, [0, 1])));
        // A prefill chunk (two tokens of one sequence), a missing logit row, rows out of order, a batch past the largest size.
        Assert.False(graphs.Serves(new ForwardBatch([1, 2], [0, 1], [0, 2], [0], pages[..1], 16, [1])));
        Assert.False(graphs.Serves(new ForwardBatch([1, 2], [5, 3], [0, 1, 2], [5, 3], pages[..2], 16, [1])));
        Assert.False(graphs.Serves(new ForwardBatch([1, 2], [5, 3], [0, 1, 2], [5, 3], pages[..2], 16, [1, 0])));
        int[][] five = [[0], [1], [2], [3], [4]];
        Assert.False(graphs.Serves(new ForwardBatch([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], [0, 1, 2, 3, 4, 5], [1, 1, 1, 1, 1], five, 16, [0, 1, 2, 3, 4])));
    }

    [Fact]
    public void Padding_sequences_follow_the_real_ones_at_position_0_of_the_scratch_page()
    {
        using var graphs = new DecodeGraphs(maxBatch: 8, scratchPage: 9);
        var batch = new ForwardBatch([7, 8, 9], [20, 3, 40], [0, 1, 2, 3], [20, 3, 40], [[4, 5], [6], [1, 2, 3]], 16, [0, 1, 2]);
        Assert.Equal(4, graphs.PaddedSize(3));
        ForwardBatch padded = graphs.Pad(batch, 4);
        Assert.Equal([7, 8, 9, 0], padded.TokenIds);
        Assert.Equal([20, 3, 40, 0], padded.Positions);
        Assert.Equal([0, 1, 2, 3, 4], padded.SequenceStarts);
        Assert.Equal([20, 3, 40, 0], padded.CachedLengths);
        Assert.Equal([0, 1, 2, 3], padded.LogitRows);
        Assert.Equal([9], padded.PageTables[3]);
        Assert.Equal(9 * 16, padded.Slot(3, 0));
        Assert.Same(batch, graphs.Pad(batch, 3));
    }

    /// <summary>
    /// Three sequences decoding, padded to four: the real rows' logits equal the CPU backend's on the unpadded step
    /// (the padding sequence writes only the scratch page, so the next step still matches).
    /// </summary>
    [Fact]
    public void A_padded_decode_step_matches_the_cpu_backend_on_the_unpadded_one()
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 24, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1, "rope_theta": 10000.0, "rms_norm_eps": 1e-6}
            """);
        var options = new RunnerOptions(MaxBatchTokens: 16, MaxLogitRows: 16, Kv: new KvCacheLayout(8, 4), MaxPositions: 64, CudaGraphMaxBatch: 4);
        var model = new RandomModel(spec, seed: 17);
        using var cpu = model.Runner(new GenericQwen2Model(spec), options);
        using var gpu = model.Runner(new GenericQwen2Model(spec), options, IlgpuBackend.CreateCpuSimulator(warpsPerGroup: 8));
        int[] a = [6, 1], b = [3], c = [7, 0];
        var prefill = new ForwardBatch([4, 9, 13, 2, 7, 17, 8, 1, 5, 11, 19], [0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2], [0, 5, 8, 11], [0, 0, 0],
            [a, b, c], 4, [4, 7, 10]);
        ForwardBatch[] steps =
        [
            prefill,
            new([2, 19, 6], [5, 3, 3], [0, 1, 2, 3], [5, 3, 3], [a, b, c], 4, [0, 1, 2]),
            new([12, 3, 22], [6, 4, 4], [0, 1, 2, 3], [6, 4, 4], [a, [3, 5], c], 4, [0, 1, 2]),
        ];
        foreach (ForwardBatch step in steps)
        {
            float[] expected = cpu.Forward(step).Logits.ToArray();
            float[] actual = gpu.Forward(step).Logits.ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                // As IlgpuKernelTests: float32 sums in different orders differ by ~1e-6 relative; an indexing error is O(1).
                Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"element {i}: {expected[i]} vs {actual[i]}");
            }
        }
        Assert.Equal(2, ((IlgpuKernels<RuntimeDims>)gpu.Kernels).PaddedSteps);
    }
}
