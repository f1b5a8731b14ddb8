using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;
using Specialized.Models;

namespace Specialized.Tests.Backends;

/// <summary>
/// The tensor-core decode attention (<see cref="DecodeAttentionKernel"/>: sequences that bring one token) on ILGPU's
/// CPU accelerator, MMAs emulated, against the CPU backend (<see cref="AttentionComparison"/>). Contexts end on both
/// sides of the 16-key chunks and of the 4-warp rounds; pages are scattered.
/// </summary>
public sealed class DecodeAttentionTests
{
    /// <summary>
    /// Qwen2.5-0.5B's heads (14 on 2 KV heads, G = 7, head_dim 64). Contexts of 1, 16, 17, 18, 101 and 151 keys (the
    /// new token's included): a lone key, a chunk exactly full and just over, and rounds where some warps have no
    /// chunk. Page size 16 puts a chunk in one page (one page-table read a chunk); 4 spreads it over four. With a
    /// window of 10 the first chunk starts before the window and keys below it are masked.
    /// </summary>
    [Theory]
    [InlineData(16, 0)]
    [InlineData(16, 10)]
    [InlineData(4, 0)]
    [InlineData(4, 10)]
    public void A_decode_step_over_paged_contexts_matches_the_cpu_backend(int pageSize, int window)
    {
        var dims = AttentionComparison.Dims(heads: 14, kvHeads: 2, headDim: 64);
        Assert.True(DecodeAttentionKernel.Supports(dims));
        (ForwardBatch prefix, ForwardBatch step) = DecodeStep([0, 15, 16, 17, 100, 150], pageSize, pages: 200);
        AttentionComparison.Compare(dims, prefix, step, window, seed: 11, DecodeAttentionKernel.GroupSize, pages: 200);
    }

    /// <summary>Heads of 128 (two 64-element halves), eight query heads on one KV head, and one query head a KV head.</summary>
    [Theory]
    [InlineData(8, 1, 128)]
    [InlineData(2, 2, 128)]
    [InlineData(1, 1, 64)]
    public void Other_head_shapes_match_the_cpu_backend(int heads, int kvHeads, int headDim)
    {
        var dims = AttentionComparison.Dims(heads, kvHeads, headDim);
        Assert.True(DecodeAttentionKernel.Supports(dims));
        (ForwardBatch prefix, ForwardBatch step) = DecodeStep([40, 70], pageSize: 16, pages: 20);
        AttentionComparison.Compare(dims, prefix, step, window: 0, seed: 12, DecodeAttentionKernel.GroupSize, pages: 20);
    }

    /// <summary>
    /// One sequence over 301 keys with 4 simulated SMs: its 2 (token, KV head) groups are under the 8 the attention aims
    /// at, so the keys split in 4 ranges of 96 that the combine kernel merges. With a window of 40 the first three
    /// ranges see nothing and must add nothing.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(40)]
    public void Split_keys_match_the_cpu_backend(int window)
    {
        var dims = AttentionComparison.Dims(heads: 14, kvHeads: 2, headDim: 64);
        Assert.Equal(4, IlgpuKernels<RuntimeDims>.KeySplits(2, 301, 8));
        (ForwardBatch prefix, ForwardBatch step) = DecodeStep([300], pageSize: 16, pages: 20);
        AttentionComparison.Compare(dims, prefix, step, window, seed: 13, DecodeAttentionKernel.GroupSize, multiprocessors: 4, pages: 20);
    }

    /// <summary>
    /// A mixed step: a 20-token chunk over a 30-token prefix (the prefill kernel) between two decode tokens (this
    /// kernel), each launch writing only its own rows.
    /// </summary>
    [Fact]
    public void A_mixed_step_attends_chunks_and_decode_tokens_apart()
    {
        var dims = AttentionComparison.Dims(heads: 14, kvHeads: 2, headDim: 64);
        int[][] pages = [[3, 9, 1, 10], [0, 7, 4, 12], [5, 2]];
        var prefix = new ForwardBatch(new int[50 + 30 + 20], [.. Range(0, 50), .. Range(0, 30), .. Range(0, 20)], [0, 50, 80, 100], [0, 0, 0], pages, 16, []);
        var step = new ForwardBatch(new int[22], [50, .. Range(30, 20), 20], [0, 1, 21, 22], [50, 30, 20], pages, 16, []);
        AttentionComparison.Compare(dims, prefix, step, window: 0, seed: 14, DecodeAttentionKernel.GroupSize, pages: 13);
    }

    /// <summary>
    /// The prefix that caches <paramref name="cached"/> tokens of each sequence and the decode step after it (one token
    /// each at position cached), the sequences' pages interleaved and reversed so no two neighbours share an order.
    /// </summary>
    private static (ForwardBatch Prefix, ForwardBatch Step) DecodeStep(int[] cached, int pageSize, int pages)
    {
        int sequences = cached.Length;
        int[] needed = cached.Select(c => c / pageSize + 1).ToArray();
        var pageTables = new int[sequences][];
        int next = pages - 1;
        for (int s = 0; s < sequences; s++) pageTables[s] = new int[needed[s]];
        for (int p = 0; p < needed.Max(); p++)
        {
            for (int s = 0; s < sequences; s++)
            {
                if (p < needed[s]) pageTables[s][p] = next--;
            }
        }
        Assert.True(next >= -1, "the pool is too small for the contexts");
        int[] starts = new int[sequences + 1];
        for (int s = 0; s < sequences; s++) starts[s + 1] = starts[s] + cached[s];
        var prefix = new ForwardBatch(new int[starts[^1]], cached.SelectMany(c => Range(0, c)).ToArray(), starts, new int[sequences], pageTables, pageSize, []);
        var step = new ForwardBatch(new int[sequences], cached, Range(0, sequences + 1), cached, pageTables, pageSize, []);
        return (prefix, step);
    }

    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();
}
