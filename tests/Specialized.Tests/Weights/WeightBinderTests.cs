using System.Runtime.InteropServices;
using Specialized.Backends;
using Specialized.Models;
using Specialized.Tests.Support;
using Specialized.Weights;

namespace Specialized.Tests.Weights;

/// <summary>Binding a weight tree to a checkpoint: every source found and checked, fused parameters stacked in order.</summary>
public sealed class WeightBinderTests
{
    [Fact]
    public void Generated_tiny_model_binds_with_qkv_and_gate_up_stacked_in_order()
    {
        using var temp = new TempFolder();
        var weights = new Tiny.Model().Weights;
        var (tensors, values) = TestCheckpoints.Random(weights, SafetensorsDType.BFloat16, seed: 7);
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        WeightPlan plan = WeightBinder.Plan(weights, checkpoint);

        Assert.Empty(plan.Warnings);
        Assert.Equal(weights.Parameters, plan.Parameters.Select(p => p.Parameter));
        Assert.DoesNotContain("lm_head.weight", checkpoint.TensorNames);
        Assert.Same(weights.EmbedTokens, weights.LmHead);

        ParameterPlan qkv = plan.Parameters.Single(p => p.Parameter == weights.Layers[1].QkvProj);
        Assert.Equal(["model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight"],
            qkv.Sources.Select(s => s.Name));
        ParameterPlan gateUp = plan.Parameters.Single(p => p.Parameter == weights.Layers[0].GateUpProj);
        Assert.Equal(["model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight"], gateUp.Sources.Select(s => s.Name));

        // Every parameter, read as float32, is its sources' values one after the other.
        foreach (ParameterPlan p in plan.Parameters)
        {
            float[] actual = ReadSingles(p);
            // Spans, not Assert.Equal's IEnumerable walk, which takes seconds over ten million floats.
            int at = 0;
            foreach (HfTensor source in p.Parameter.Sources)
            {
                float[] expected = values[source.Name];
                Assert.True(expected.AsSpan().SequenceEqual(actual.AsSpan(at, expected.Length)), $"{source.Name} is not at [{at}..] of {p.Parameter.Name}");
                at += expected.Length;
            }
            Assert.Equal(actual.Length, at);
        }

        // bf16 to bf16 is the file's bytes unchanged.
        var raw = new byte[qkv.ElementCount * 2];
        qkv.CopyTo(raw, DType.BFloat16);
        Assert.Equal(qkv.Sources.SelectMany(s => s.Bytes.ToArray()), raw);

        // A backend may take one stored tensor's bytes as they lie in the file, in the dtype they are stored in; a
        // stacked parameter, or another dtype, it must ask the Write methods for.
        ParameterPlan o = plan.Parameters.Single(p => p.Parameter == weights.Layers[0].OProj);
        Assert.True(((IWeightSource)o).TryGetStored(DType.BFloat16, out ReadOnlySpan<byte> stored));
        Assert.True(stored.SequenceEqual(o.Sources.Single().Bytes));
        Assert.False(((IWeightSource)o).TryGetStored(DType.Float32, out _));
        Assert.False(((IWeightSource)qkv).TryGetStored(DType.BFloat16, out _));
    }

    [Fact]
    public void Untied_model_needs_lm_head_and_binds_it()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: false);
        var (tensors, values) = TestCheckpoints.Random(tree, SafetensorsDType.Float32, seed: 8);
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors);
        using (Checkpoint checkpoint = Checkpoint.Open(temp.Path))
        {
            WeightPlan plan = WeightBinder.Plan(tree, checkpoint);
            Assert.Empty(plan.Warnings);
            Assert.Equal(values["lm_head.weight"], ReadSingles(plan.Parameters.Single(p => p.Parameter == tree.LmHead)));
        }

        SafetensorsWriter.WriteCheckpoint(temp.Path, [.. tensors.Where(t => t.Name != "lm_head.weight")]);
        using (Checkpoint checkpoint = Checkpoint.Open(temp.Path))
        {
            var e = Assert.Throws<CheckpointException>(() => WeightBinder.Plan(tree, checkpoint));
            CheckpointErrorTests.AssertNames(e, temp.File(Checkpoint.SingleFileName), "lm_head.weight");
            Assert.Contains("is missing: the model needs it as [8, 4]", e.Message);
        }
    }

    [Fact]
    public void Tied_model_warns_about_an_lm_head_and_other_extras_but_not_rotary_buffers()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: true);
        var (tensors, _) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 9);
        tensors.Add(TensorToWrite.FromSingles("lm_head.weight", SafetensorsDType.BFloat16, [8, 4], new float[32]));
        tensors.Add(TensorToWrite.FromSingles("model.layers.0.self_attn.rotary_emb.inv_freq", SafetensorsDType.Float32, [1], [1f]));
        tensors.Add(new TensorToWrite("model.position_ids", SafetensorsDType.Int64, [2], new byte[16]));
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors, maxShardBytes: 128);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        WeightPlan plan = WeightBinder.Plan(tree, checkpoint);

        Assert.Equal(["lm_head.weight", "model.position_ids"], plan.Warnings.Select(w => w.Tensor));
        CheckpointWarning lmHead = plan.Warnings[0];
        Assert.Contains("ties its output projection", lmHead.Message);
        checkpoint.TryGetTensor("lm_head.weight", out TensorView? view);
        Assert.Equal(view!.File.Path, lmHead.File);
        Assert.StartsWith(lmHead.File + ": tensor 'lm_head.weight': ", lmHead.ToString());
    }

    [Fact]
    public void Wrong_shape_names_the_shard_and_the_tensor()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: true);
        var (tensors, _) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 10);
        int k = tensors.FindIndex(t => t.Name == "model.layers.0.self_attn.k_proj.weight");
        tensors[k] = TensorToWrite.FromSingles(tensors[k].Name, SafetensorsDType.BFloat16, [4, 2], new float[8]);
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors, maxShardBytes: 64);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        var e = Assert.Throws<CheckpointException>(() => WeightBinder.Plan(tree, checkpoint));
        checkpoint.TryGetTensor(tensors[k].Name, out TensorView? view);
        CheckpointErrorTests.AssertNames(e, view!.File.Path, tensors[k].Name);
        Assert.Contains("has shape [4, 2], but the model needs [2, 4]", e.Message);
    }

    [Theory]
    [InlineData(SafetensorsDType.Int64)]
    [InlineData(SafetensorsDType.Float8E4M3)]
    [InlineData(SafetensorsDType.Float64)]
    public void Unsupported_dtype_of_a_needed_tensor(SafetensorsDType dtype)
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: true);
        var (tensors, _) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 11);
        int norm = tensors.FindIndex(t => t.Name == "model.norm.weight");
        tensors[norm] = new TensorToWrite("model.norm.weight", dtype, [4], new byte[4 * dtype.Size()]);
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        var e = Assert.Throws<CheckpointException>(() => WeightBinder.Plan(tree, checkpoint));
        CheckpointErrorTests.AssertNames(e, temp.File(Checkpoint.SingleFileName), "model.norm.weight");
        Assert.Contains($"has dtype {dtype.Name()}; weights must be BF16, F16 or F32", e.Message);
    }

    [Fact]
    public void Several_problems_are_counted_in_the_first_ones_message()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: true);
        var (tensors, _) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 12);
        SafetensorsWriter.WriteCheckpoint(temp.Path, [.. tensors.Where(t => !t.Name.Contains("layers.0.mlp"))]);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        var e = Assert.Throws<CheckpointException>(() => WeightBinder.Plan(tree, checkpoint));
        Assert.Equal("model.layers.0.mlp.gate_proj.weight", e.Tensor);
        Assert.EndsWith("(and 2 more tensors of the model are missing or wrong)", e.Message);
    }

    [Fact]
    public void Mixed_source_dtypes_convert_to_every_weight_dtype_and_copy_in_pieces()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: true);
        var random = new Random(13);
        float[] q = TestCheckpoints.RandomValues(random, 16);
        float[] k = TestCheckpoints.RandomValues(random, 8);
        float[] v = TestCheckpoints.RandomValues(random, 8);
        var (tensors, _) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 14);
        tensors.RemoveAll(t => t.Name.Contains("_proj.weight") && t.Name.Contains("self_attn") && !t.Name.Contains("o_proj"));
        tensors.Add(TensorToWrite.FromSingles("model.layers.0.self_attn.q_proj.weight", SafetensorsDType.BFloat16, [4, 4], q));
        tensors.Add(TensorToWrite.FromSingles("model.layers.0.self_attn.k_proj.weight", SafetensorsDType.Float16, [2, 4], k));
        tensors.Add(TensorToWrite.FromSingles("model.layers.0.self_attn.v_proj.weight", SafetensorsDType.Float32, [2, 4], v));
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors);

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        ParameterPlan qkv = WeightBinder.Plan(tree, checkpoint).Parameters.Single(p => p.Parameter == tree.QkvProj);
        float[] all = [.. q, .. k, .. v];

        Assert.Equal(all, ReadSingles(qkv));

        var bf16 = new ushort[32];
        qkv.CopyTo(MemoryMarshal.AsBytes(bf16.AsSpan()), DType.BFloat16);
        Assert.Equal(all.Select(BFloat16.FromSingle), bf16);

        var f16 = new Half[32];
        qkv.CopyTo(MemoryMarshal.AsBytes(f16.AsSpan()), DType.Float16);
        Assert.Equal(all.Select(x => (Half)x), f16);

        // A window that starts inside q and ends inside v, in two pieces.
        var piece = new float[21];
        qkv.CopyTo(5, MemoryMarshal.AsBytes(piece.AsSpan(0, 9)), DType.Float32);
        qkv.CopyTo(14, MemoryMarshal.AsBytes(piece.AsSpan(9)), DType.Float32);
        Assert.Equal(all[5..26], piece);

        Assert.Throws<ArgumentOutOfRangeException>(() => qkv.CopyTo(30, new byte[12], DType.Float32));
        Assert.Throws<ArgumentException>(() => qkv.CopyTo(new byte[8], DType.Float32));
        Assert.Throws<ArgumentException>(() => qkv.CopyTo(new byte[128], DType.Int32));
    }

    private static float[] ReadSingles(ParameterPlan plan)
    {
        var values = new float[plan.ElementCount];
        plan.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()), DType.Float32);
        return values;
    }
}
