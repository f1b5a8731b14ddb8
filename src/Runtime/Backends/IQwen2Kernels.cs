using Specialized.Models;

namespace Specialized.Backends;

/// <summary>
/// The seam between a generated model and a backend: the operations of a Qwen2 forward pass, in the order the
/// model calls them. T is the number of tokens in the batch. Each backend (CPU, CUDA) implements it once,
/// generically over <typeparamref name="TDims"/>, so a specialized build gets kernels with its sizes folded in.
/// Fusion lives behind these calls (residual add with the norm, RoPE with the KV write). Every call gets the batch
/// first: it says how many rows of the workspace tensors are live, and where each token sits.
/// </summary>
public interface IQwen2Kernels<TDims> where TDims : struct, IQwen2Dims
{
    /// <summary>output[t] = table[batch.TokenIds[t]]. table [vocab, hidden], output [T, hidden].</summary>
    void Embed(ForwardBatch batch, Tensor table, Tensor output);

    /// <summary>output = input / rms(input) * weight, per row. input, output [T, hidden].</summary>
    void RmsNorm(ForwardBatch batch, Tensor input, Tensor weight, Tensor output);

    /// <summary>residual += input; output = rmsnorm(residual) * weight.</summary>
    void AddRmsNorm(ForwardBatch batch, Tensor residual, Tensor input, Tensor weight, Tensor output);

    /// <summary>output = input x weightᵀ (+ bias). input [T, in], weight [out, in], output [T, out].</summary>
    void Linear(ForwardBatch batch, Tensor input, Tensor weight, Tensor? bias, Tensor output);

    /// <summary>
    /// Rotates the q and k parts of <paramref name="qkv"/> [T, q | k | v] in place at each token's position
    /// (neox layout), and writes the token's k and v into <paramref name="layer"/>'s paged KV cache.
    /// </summary>
    void RopeAndStoreKv(ForwardBatch batch, int layer, Tensor qkv);

    /// <summary>
    /// Causal attention with grouped key/value heads: each token's queries against its sequence's cached keys and
    /// values up to its own position (only the last <paramref name="slidingWindow"/> of them when it is non-zero).
    /// output [T, heads x head_dim].
    /// </summary>
    void Attention(ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output);

    /// <summary>output = silu(gate) * up, where gateUp [T, gate | up] and output [T, intermediate].</summary>
    void SiluMul(ForwardBatch batch, Tensor gateUp, Tensor output);

    /// <summary>logits[r] = input[batch.LogitRows[r]] x weightᵀ. weight [vocab, hidden], logits [rows, vocab].</summary>
    void Logits(ForwardBatch batch, Tensor input, Tensor weight, Tensor logits);
}
