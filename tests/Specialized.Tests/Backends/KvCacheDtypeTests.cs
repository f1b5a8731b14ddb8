using Specialized.Backends;
using Specialized.Kernels;

namespace Specialized.Tests.Backends;

/// <summary>
/// A bf16 KV cache through every attention kernel on ILGPU's CPU accelerator against the CPU backend with the same
/// cache (<see cref="AttentionComparison"/>: both sides round the stored values alike, so the kernels must agree as
/// closely as with float32, and the comparison also checks that the rounding happened). The simulated group size picks
/// the kernels: one warp leaves only the warp-per-row attention; eight warps with heads of 12 (no tensor-core kernel
/// serves them) the SIMT block attention; four warps with heads of 64 the tensor-core prefill and decode kernels.
/// </summary>
public sealed class KvCacheDtypeTests
{
    [Theory]
    [InlineData(32, 12)]     // AttentionKernel
    [InlineData(256, 12)]    // ExtendAttentionKernel
    [InlineData(128, 64)]    // TensorCoreAttentionKernel (the chunk) and DecodeAttentionKernel (the decode tokens)
    public void A_bf16_cache_attends_alike_on_every_kernel(int groupSize, int headDim)
    {
        var dims = AttentionComparison.Dims(heads: 14, kvHeads: 2, headDim: headDim);
        Assert.Equal(headDim == 64, DecodeAttentionKernel.Supports(dims) && TensorCoreAttentionKernel.Supports(dims));
        int[][] pages = [[3, 9, 1, 10], [0, 7, 4, 12], [5, 2]];
        var prefix = new ForwardBatch(new int[100], [.. Range(0, 50), .. Range(0, 30), .. Range(0, 20)], [0, 50, 80, 100], [0, 0, 0], pages, 16, []);
        var step = new ForwardBatch(new int[22], [50, .. Range(30, 20), 20], [0, 1, 21, 22], [50, 30, 20], pages, 16, []);
        AttentionComparison.Compare(dims, prefix, step, window: 0, seed: 15, groupSize, pages: 13, dtype: KvCacheDtype.BFloat16);
    }

    [Theory]
    [InlineData("float32", KvCacheDtype.Float32)]
    [InlineData("FP32", KvCacheDtype.Float32)]
    [InlineData("bf16", KvCacheDtype.BFloat16)]
    [InlineData("bfloat16", KvCacheDtype.BFloat16)]
    public void Names_parse(string name, KvCacheDtype expected) => Assert.Equal(expected, KvCacheDtypes.Parse(name));

    [Fact]
    public void An_unknown_name_says_which_are_known()
    {
        var e = Assert.Throws<ArgumentException>(() => KvCacheDtypes.Parse("fp16"));
        Assert.Contains("float32 or bf16", e.Message);
    }

    private static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();
}
