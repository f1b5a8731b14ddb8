using Specialized.Backends;
using Specialized.Weights;

namespace Specialized.Models;

/// <summary>
/// A Qwen2 model whose dimensions are read at run time: the fallback for checkpoints no build has specialized. It runs
/// the same kernels as the generated models (instantiated with <see cref="RuntimeDims"/>) through the same sequence
/// of calls, written as a loop instead of unrolled.
/// </summary>
public sealed class GenericQwen2Model : IQwen2Model<RuntimeDims>
{
    private readonly GenericWeights _weights;

    public GenericQwen2Model(ModelSpec spec)
    {
        Spec = spec;
        Dims = new RuntimeDims(spec);
        _weights = new GenericWeights(spec);
    }

    public RuntimeDims Dims { get; }

    public ModelSpec Spec { get; }

    public IWeightTree Weights => _weights;

    public void Forward(IQwen2Kernels<RuntimeDims> k, Qwen2Workspace x, ForwardBatch batch)
    {
        GenericWeights w = _weights;
        k.Embed(batch, w.EmbedTokens.Value, x.Residual);
        for (int i = 0; i < w.Layers.Length; i++)
        {
            GenericLayer l = w.Layers[i];
            k.NormQkv(batch, i, x.Residual, l.InputLayernorm.Value, x.Normed, l.QkvProj.Value, l.QkvBias.Value, x.Qkv);
            k.Attention(batch, i, Spec.SlidingWindows[i], x.Qkv, x.Attention);
            k.LinearAdd(batch, x.Attention, l.OProj.Value, x.Hidden, x.Residual);
            k.NormGateUp(batch, x.Residual, l.PostAttentionLayernorm.Value, x.Normed, l.GateUpProj.Value, x.GateUp, x.Activated);
            k.LinearAdd(batch, x.Activated, l.DownProj.Value, x.Hidden, x.Residual);
        }
        k.RmsNorm(batch, x.Residual, w.Norm.Value, x.Normed);
        k.Logits(batch, x.Normed, w.LmHead.Value, x.Logits);
    }

    private sealed class GenericWeights : IWeightTree
    {
        public GenericWeights(ModelSpec s)
        {
            EmbedTokens = new Parameter("model.embed_tokens.weight", [s.VocabSize, s.HiddenSize]);
            Layers = Enumerable.Range(0, s.NumHiddenLayers).Select(i => new GenericLayer(s, i)).ToArray();
            Norm = new Parameter("model.norm.weight", [s.HiddenSize]);
            LmHead = s.TieWordEmbeddings ? EmbedTokens : new Parameter("lm_head.weight", [s.VocabSize, s.HiddenSize]);
            var all = new List<Parameter> { EmbedTokens };
            foreach (GenericLayer layer in Layers) all.AddRange(layer.Parameters);
            all.Add(Norm);
            if (!s.TieWordEmbeddings) all.Add(LmHead);
            Parameters = all;
        }

        public Parameter EmbedTokens { get; }
        public GenericLayer[] Layers { get; }
        public Parameter Norm { get; }
        public Parameter LmHead { get; }
        public IReadOnlyList<Parameter> Parameters { get; }
    }

    private sealed class GenericLayer
    {
        public GenericLayer(ModelSpec s, int index)
        {
            string p = $"model.layers.{index}.";
            int h = s.HiddenSize;
            InputLayernorm = new(p + "input_layernorm.weight", [h]);
            QkvProj = new(p + "self_attn.qkv_proj.weight", [s.QkvSize, h],
                [new(p + "self_attn.q_proj.weight", [s.QSize, h]), new(p + "self_attn.k_proj.weight", [s.KvSize, h]), new(p + "self_attn.v_proj.weight", [s.KvSize, h])]);
            QkvBias = new(p + "self_attn.qkv_proj.bias", [s.QkvSize],
                [new(p + "self_attn.q_proj.bias", [s.QSize]), new(p + "self_attn.k_proj.bias", [s.KvSize]), new(p + "self_attn.v_proj.bias", [s.KvSize])]);
            OProj = new(p + "self_attn.o_proj.weight", [h, s.QSize]);
            PostAttentionLayernorm = new(p + "post_attention_layernorm.weight", [h]);
            GateUpProj = new(p + "mlp.gate_up_proj.weight", [s.GateUpSize, h],
                [new(p + "mlp.gate_proj.weight", [s.IntermediateSize, h]), new(p + "mlp.up_proj.weight", [s.IntermediateSize, h])]);
            DownProj = new(p + "mlp.down_proj.weight", [h, s.IntermediateSize]);
        }

        public Parameter InputLayernorm { get; }
        public Parameter QkvProj { get; }
        public Parameter QkvBias { get; }
        public Parameter OProj { get; }
        public Parameter PostAttentionLayernorm { get; }
        public Parameter GateUpProj { get; }
        public Parameter DownProj { get; }

        public IEnumerable<Parameter> Parameters =>
            [InputLayernorm, QkvProj, QkvBias, OProj, PostAttentionLayernorm, GateUpProj, DownProj];
    }
}
