namespace Specialized.Benchmarks.Gpu;

/// <summary>One projection of the Qwen2.5-0.5B-Instruct shape: out x in, named after its weight.</summary>
public sealed record GemmShape(string Name, int OutDim, int InDim)
{
    /// <summary>The four projections of a layer (q/k/v and gate/up fused, as the engine runs them).</summary>
    public static IEnumerable<GemmShape> LayerProjections =>
        [new("qkv", 1152, 896), new("o", 896, 896), new("gate_up", 9728, 896), new("down", 896, 4864)];

    /// <summary>The layer's projections and the LM head, which decode runs on one row per request.</summary>
    public static IEnumerable<GemmShape> WithLmHead => [.. LayerProjections, new("lm_head", 151936, 896)];

    public override string ToString() => $"{Name} {OutDim}x{InDim}";
}
