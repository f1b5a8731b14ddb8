using System.Buffers.Binary;
using System.Text;
using Specialized.Weights;

namespace Specialized.Tests.Weights;

/// <summary>Checkpoints made for tests: random tensors for a weight tree, and hand-written files for the error cases.</summary>
internal static class TestCheckpoints
{
    /// <summary>
    /// A random tensor for every source of every parameter of <paramref name="tree"/>, stored as
    /// <paramref name="dtype"/>, with the float values each holds.
    /// </summary>
    public static (List<TensorToWrite> Tensors, Dictionary<string, float[]> Values) Random(IWeightTree tree, SafetensorsDType dtype, int seed)
    {
        var random = new Random(seed);
        var tensors = new List<TensorToWrite>();
        var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (HfTensor source in tree.Parameters.SelectMany(p => p.Sources))
        {
            float[] v = RandomValues(random, source.Shape.Aggregate(1, (a, b) => a * b));
            tensors.Add(TensorToWrite.FromSingles(source.Name, dtype, source.Shape, v));
            values.Add(source.Name, v);
        }
        return (tensors, values);
    }

    /// <summary>
    /// Values every weight dtype holds exactly, so a round trip compares with ==: ±(1 + m/8)·2^e for m in 0..7 and
    /// e in -4..3, drawn a byte each, which keeps ten million of them quick to make even in a Debug build.
    /// </summary>
    public static float[] RandomValues(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = s_exact[bytes[i]];
        return v;
    }

    private static readonly float[] s_exact = [.. Enumerable.Range(0, 256).Select(b =>
        ((b & 0x80) != 0 ? -1 : 1) * (1 + (b & 7) / 8f) * MathF.Pow(2, ((b >> 3) & 7) - 4))];

    /// <summary>A file with the given header text, <paramref name="dataLength"/> bytes of data, and a header length that may lie.</summary>
    public static void WriteRaw(string path, string header, int dataLength, ulong? headerLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, headerLength ?? (ulong)json.Length);
        stream.Write(length);
        stream.Write(json);
        stream.Write(new byte[dataLength]);
    }
}

/// <summary>
/// A hand-made Qwen2-shaped weight tree small enough to write in microseconds: vocabulary 8, hidden 4, one
/// layer with 2 query heads and 1 key/value head of 2, intermediate 6; tied or with its own lm_head.
/// </summary>
internal sealed class SmallTree : IWeightTree
{
    public SmallTree(bool tied)
    {
        EmbedTokens = new("model.embed_tokens.weight", [8, 4]);
        InputLayernorm = new("model.layers.0.input_layernorm.weight", [4]);
        QkvProj = new("model.layers.0.self_attn.qkv_proj.weight", [8, 4], [
            new("model.layers.0.self_attn.q_proj.weight", [4, 4]),
            new("model.layers.0.self_attn.k_proj.weight", [2, 4]),
            new("model.layers.0.self_attn.v_proj.weight", [2, 4])]);
        QkvBias = new("model.layers.0.self_attn.qkv_proj.bias", [8], [
            new("model.layers.0.self_attn.q_proj.bias", [4]),
            new("model.layers.0.self_attn.k_proj.bias", [2]),
            new("model.layers.0.self_attn.v_proj.bias", [2])]);
        OProj = new("model.layers.0.self_attn.o_proj.weight", [4, 4]);
        PostAttentionLayernorm = new("model.layers.0.post_attention_layernorm.weight", [4]);
        GateUpProj = new("model.layers.0.mlp.gate_up_proj.weight", [12, 4], [
            new("model.layers.0.mlp.gate_proj.weight", [6, 4]),
            new("model.layers.0.mlp.up_proj.weight", [6, 4])]);
        DownProj = new("model.layers.0.mlp.down_proj.weight", [4, 6]);
        Norm = new("model.norm.weight", [4]);
        LmHead = tied ? EmbedTokens : new("lm_head.weight", [8, 4]);

        List<Parameter> all = [EmbedTokens, InputLayernorm, QkvProj, QkvBias, OProj, PostAttentionLayernorm, GateUpProj, DownProj, Norm];
        if (!tied) all.Add(LmHead);
        Parameters = all;
    }

    public Parameter EmbedTokens { get; }
    public Parameter InputLayernorm { get; }
    public Parameter QkvProj { get; }
    public Parameter QkvBias { get; }
    public Parameter OProj { get; }
    public Parameter PostAttentionLayernorm { get; }
    public Parameter GateUpProj { get; }
    public Parameter DownProj { get; }
    public Parameter Norm { get; }
    public Parameter LmHead { get; }

    public IReadOnlyList<Parameter> Parameters { get; }
}
