using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Specialized.Backends.Ilgpu;
using Specialized.Kernels;
using Specialized.Models;

namespace Specialized.Tests.Backends;

/// <summary>
/// Block attention with its keys split into ranges and merged by the combine kernel, against the same kernel over all
/// keys in one group (which the model-level tests check against the CPU backend), on ILGPU's CPU accelerator: one
/// decode token of each of two heads over a 200-key context in scattered pages, with and without a sliding window
/// (with a window of 40 the first range sees nothing and must add nothing).
/// </summary>
public sealed class AttentionSplitTests
{
    private const int Keys = 200, PageSize = 16;

    /// <param name="splits">Key ranges: 3 leaves the combine kernel a range past its pairs; 40 is more than a warp's lanes.</param>
    [Theory]
    [InlineData(0, 3, 96)]     // keys 0-95, 96-191, 192-199
    [InlineData(40, 3, 96)]
    [InlineData(0, 40, 5)]     // five keys a range
    public void Split_keys_merge_to_the_unsplit_result(int window, int splits, int splitKeys)
    {
        var dims = new RuntimeDims(ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 8, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1}
            """));
        var rng = new Random(21);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int pages = (Keys + PageSize - 1) / PageSize;
        int[] pageTable = Enumerable.Range(0, pages).Select(p => (p * 5) % pages).ToArray();
        float[] qkv = Random(dims.QkvSize), keys = Random(pages * PageSize * dims.KvSize), values = Random(pages * PageSize * dims.KvSize);

        using var context = Context.Create(builder => builder.CPU(new CPUDevice(32, ExtendAttentionKernel.GroupSize / 32, 1)));
        using var accelerator = context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
        var attend = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>,
            ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, RuntimeDims>(ExtendAttentionKernel.Run<RuntimeDims, Float32Kv>);
        var combine = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, RuntimeDims>(AttentionCombineKernel.Run);
        using var q = accelerator.Allocate1D(qkv);
        using var k = accelerator.Allocate1D(keys);
        using var v = accelerator.Allocate1D(values);
        using var positions = accelerator.Allocate1D(new[] { Keys - 1 });
        using var sequence = accelerator.Allocate1D(new[] { 0 });
        using var table = accelerator.Allocate1D(pageTable);
        using var offsets = accelerator.Allocate1D(new[] { 0 });
        using var blocks = accelerator.Allocate1D(new[] { 0, 1 });
        using var partials = accelerator.Allocate1D<float>(splits * ExtendAttentionKernel.MaxRows * ExtendAttentionKernel.PartialSize);

        float[] Attend(int splits, int splitKeys)
        {
            using var output = accelerator.Allocate1D<float>(dims.QSize);
            attend(accelerator.DefaultStream, new KernelConfig(new Index3D(1, 1, splits), new Index3D(ExtendAttentionKernel.GroupSize, 1, 1)),
                q.View, output.View, k.View, v.View, positions.View, sequence.View, table.View, offsets.View, blocks.View, partials.View,
                splitKeys, PageSize, window, dims);
            if (splits > 1)
            {
                combine(accelerator.DefaultStream, new KernelConfig(new Index2D(1, 1), new Index2D(AttentionCombineKernel.GroupSize, 1)),
                    partials.View, output.View, blocks.View, splits, ExtendAttentionKernel.MaxRows, dims);
            }
            accelerator.Synchronize();
            return output.GetAsArray1D();
        }

        float[] whole = Attend(1, 0);
        float[] split = Attend(splits, splitKeys);

        // The same products summed in other groupings and rescaled once more: float32 rounding, ~1e-7 of values of size ~1.
        for (int i = 0; i < whole.Length; i++) Assert.True(Math.Abs(whole[i] - split[i]) < 1e-5, $"element {i}: {split[i]} vs {whole[i]}");
    }

    [Theory]
    [InlineData(264, 2, 128, 2)]      // one request, 2 KV heads, a short context: ranges of at least 64 keys
    [InlineData(264, 2, 1000, 15)]    // the same over 1,000 keys: 15 ranges
    [InlineData(264, 8, 4000, 33)]    // enough ranges to reach the target, no more
    [InlineData(264, 300, 4000, 1)]   // the groups fill the GPU already
    [InlineData(264, 2, 40, 1)]       // too short to split
    public void Keys_split_until_the_groups_fill_the_gpu(int target, int groups, int longest, int expected) =>
        Assert.Equal(expected, IlgpuKernels<RuntimeDims>.KeySplits(groups, longest, target));
}
