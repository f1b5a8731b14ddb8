using ILGPU;
using ILGPU.Runtime;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;
using Specialized.Models;

namespace Specialized.Tests.Backends;

/// <summary>
/// The tensor-core attention (prefill steps) on ILGPU's CPU accelerator with 4-warp groups, where the MMA is emulated
/// from the PTX fragment layouts (<see cref="Mma"/>), against the CPU backend (<see cref="AttentionComparison"/>).
/// </summary>
public sealed class TensorCoreAttentionTests
{
    private const int PageSize = 4;

    /// <summary>
    /// G = 3 (6 query heads on 2 KV heads, head_dim 16): a block holds 21 tokens (63 rows, one idle). Sequence 0 has 37
    /// cached tokens in scattered 4-token pages and brings 26 (blocks of 21 and a ragged 5); sequence 1 starts with 5
    /// (one block of 15 rows, one busy warp). With a window of 10, tiles start off the 32-key grid and each row's
    /// window cuts inside a tile.
    /// </summary>
    /// <remarks>
    /// With a bf16 cache the staged K and V have no low terms, and their products take two MMAs instead of three.
    /// </remarks>
    [Theory]
    [InlineData(0, KvCacheDtype.Float32)]
    [InlineData(10, KvCacheDtype.Float32)]
    [InlineData(10, KvCacheDtype.BFloat16)]
    public void A_chunk_over_a_paged_prefix_and_a_fresh_sequence_match_the_cpu_backend(int window, KvCacheDtype dtype)
    {
        var dims = AttentionComparison.Dims(heads: 6, kvHeads: 2, headDim: 16);
        Assert.Equal(21, TensorCoreAttentionKernel.TokensPerBlock(dims.GroupSize));
        int[] pagesA = [11, 3, 17, 0, 8, 14, 5, 1, 19, 12, 6, 16, 2, 9, 15, 4], pagesB = [7, 13];
        var prefix = new ForwardBatch(new int[37], Range(0, 37), [0, 37], [0], [pagesA], PageSize, []);
        var chunk = new ForwardBatch(new int[31], [.. Range(37, 26), .. Range(0, 5)], [0, 26, 31], [37, 0], [pagesA, pagesB], PageSize, []);
        Assert.True(IlgpuKernels<RuntimeDims>.UseTensorCoreAttention(chunk.TokenCount, chunk.SequenceCount));
        AttentionComparison.Compare(dims, prefix, chunk, window, seed: 5, groupSize: TensorCoreAttentionKernel.GroupSize, dtype: dtype);
    }

    /// <summary>
    /// One KV head (G = 2, head_dim 32): a 40-token chunk (blocks of 32 and 8 tokens) over a 120-token prefix. With 4
    /// simulated multiprocessors attention aims at 8 groups, so the 2 (block, KV head) groups split their 160 keys in
    /// two ranges (0-95, 96-159) whose partial states the combine kernel merges, 64 rows a group.
    /// </summary>
    [Fact]
    public void Split_keys_over_a_long_prefix_match_the_cpu_backend()
    {
        var dims = AttentionComparison.Dims(heads: 2, kvHeads: 1, headDim: 32);
        Assert.Equal(2, IlgpuKernels<RuntimeDims>.KeySplits(2, 160, 8));
        int[] pages = Enumerable.Range(0, 40).Select(p => (p * 7) % 40).ToArray();
        var prefix = new ForwardBatch(new int[120], Range(0, 120), [0, 120], [0], [pages], PageSize, []);
        var chunk = new ForwardBatch(new int[40], Range(120, 40), [0, 40], [120], [pages], PageSize, []);
        Assert.True(IlgpuKernels<RuntimeDims>.UseTensorCoreAttention(chunk.TokenCount, chunk.SequenceCount));
        AttentionComparison.Compare(dims, prefix, chunk, window: 0, seed: 6, groupSize: TensorCoreAttentionKernel.GroupSize, multiprocessors: 4);
    }

    [Theory]
    [InlineData(1, 1, false)]      // one decode token
    [InlineData(40, 40, false)]    // a decode step of 40 sequences
    [InlineData(79, 40, false)]    // 40 sequences, one of them with a 40-token chunk: under 2 a sequence
    [InlineData(80, 40, true)]
    [InlineData(2, 1, true)]       // the smallest chunk
    [InlineData(1024, 1, true)]    // a prompt
    public void Steps_of_two_tokens_a_sequence_or_more_run_on_tensor_cores(int tokens, int sequences, bool expected) =>
        Assert.Equal(expected, IlgpuKernels<RuntimeDims>.UseTensorCoreAttention(tokens, sequences));

    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();
}
