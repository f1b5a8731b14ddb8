using Specialized.Models;

namespace Specialized.Backends;

/// <summary>
/// The seam between a generated model and a backend: the operations of a Qwen2 forward pass, in the order the
/// model calls them. T is the number of tokens in the batch. Each backend (CPU, CUDA) implements it once,
/// generically over <typeparamref name="TDims"/>, so a specialized build gets kernels with its sizes folded in.
/// The calls are the units a backend may fuse (the norm into the projection after it, the residual add into the one
/// before, SiLU into gate/up, RoPE into the KV write), and they name the scratch a backend may need. Every call gets the batch
/// first: it says how many rows of the workspace tensors are live, and where each token sits.
/// </summary>
public interface IQwen2Kernels<TDims> where TDims : struct, IQwen2Dims
{
    /// <summary>output[t] = table[batch.TokenIds[t]]. table [vocab, hidden], output [T, hidden].</summary>
    void Embed(ForwardBatch batch, Tensor table, Tensor output);

    /// <summary>output = input / rms(input) * weight, per row. input, output [T, hidden]. The final norm.</summary>
    void RmsNorm(ForwardBatch batch, Tensor input, Tensor weight, Tensor output);

    /// <summary>
    /// The attention's input: qkv = rmsnorm(residual) * norm x weightᵀ (+ bias), then <see cref="RopeAndStoreKv"/> on it.
    /// residual [T, hidden], weight [q + 2 x kv, hidden], qkv [T, q | k | v]. <paramref name="normed"/> [T, hidden] is
    /// scratch for a backend that normalizes in a pass of its own; one that folds the norm into the projection leaves
    /// it alone.
    /// </summary>
    void NormQkv(ForwardBatch batch, int layer, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor? bias, Tensor qkv);

    /// <summary>
    /// residual += input x weightᵀ: a projection added into the residual stream. input [T, in], weight [hidden, in],
    /// residual [T, hidden]. <paramref name="scratch"/> [T, hidden] is for a backend that adds in a pass of its own.
    /// </summary>
    void LinearAdd(ForwardBatch batch, Tensor input, Tensor weight, Tensor scratch, Tensor residual);

    /// <summary>
    /// activated = silu(gate) * up, where [gate | up] = rmsnorm(residual) * norm x weightᵀ: the MLP's first half.
    /// weight [2 x intermediate, hidden] (gate rows, then up rows), activated [T, intermediate]. <paramref name="normed"/>
    /// [T, hidden] and <paramref name="gateUp"/> [T, 2 x intermediate] are scratch, as in <see cref="NormQkv"/>.
    /// </summary>
    void NormGateUp(ForwardBatch batch, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor gateUp, Tensor activated);

    /// <summary>
    /// Rotates the q and k parts of <paramref name="qkv"/> [T, q | k | v] in place at each token's position
    /// (neox layout), and writes the token's k and v into <paramref name="layer"/>'s paged KV cache: the second half of
    /// <see cref="NormQkv"/>, on its own for a qkv made elsewhere.
    /// </summary>
    void RopeAndStoreKv(ForwardBatch batch, int layer, Tensor qkv);

    /// <summary>
    /// Causal attention with grouped key/value heads: each token's queries against its sequence's cached keys and
    /// values up to its own position (only the last <paramref name="slidingWindow"/> of them when it is non-zero).
    /// output [T, heads x head_dim].
    /// </summary>
    void Attention(ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output);

    /// <summary>logits[r] = input[batch.LogitRows[r]] x weightᵀ. weight [vocab, hidden], logits [rows, vocab].</summary>
    void Logits(ForwardBatch batch, Tensor input, Tensor weight, Tensor logits);
}
