namespace Specialized.Backends;

/// <summary>
/// The activations of one forward step, allocated once by a backend for the largest batch it will run and
/// reused every step. Shapes are for T tokens and R logit rows.
/// </summary>
public sealed class Qwen2Workspace(
    Tensor residual, Tensor hidden, Tensor normed, Tensor qkv, Tensor attention,
    Tensor gateUp, Tensor activated, Tensor logits) : IDisposable
{
    /// <summary>The residual stream [T, hidden].</summary>
    public Tensor Residual { get; } = residual;

    /// <summary>A sub-layer's output before it joins the residual [T, hidden].</summary>
    public Tensor Hidden { get; } = hidden;

    /// <summary>Normalised input of the next sub-layer; after the last norm, the final hidden states [T, hidden].</summary>
    public Tensor Normed { get; } = normed;

    /// <summary>Fused q | k | v [T, qkv].</summary>
    public Tensor Qkv { get; } = qkv;

    /// <summary>Attention output [T, heads x head_dim].</summary>
    public Tensor Attention { get; } = attention;

    /// <summary>Fused gate | up [T, 2 x intermediate].</summary>
    public Tensor GateUp { get; } = gateUp;

    /// <summary>silu(gate) * up [T, intermediate].</summary>
    public Tensor Activated { get; } = activated;

    /// <summary>Logits of the rows that asked for them [R, vocab].</summary>
    public Tensor Logits { get; } = logits;

    public void Dispose()
    {
        foreach (Tensor t in new[] { Residual, Hidden, Normed, Qkv, Attention, GateUp, Activated, Logits }) t.Dispose();
    }
}
