namespace Specialized;

/// <summary>
/// What the KV cache stores (SGLang's <c>kv_cache_dtype</c>). Float32 keeps the keys and values the float32 projection
/// computed, so attention answers like the float32 reference; BFloat16 rounds them to bf16 when stored, as a bf16 model
/// in PyTorch (and SGLang's default cache for one) holds them: half the memory, and half the bytes each decode step's
/// attention reads.
/// </summary>
public enum KvCacheDtype
{
    Float32,
    BFloat16,
}

/// <summary>Sizes of the KV cache's element types.</summary>
public static class KvCacheDtypes
{
    public static int BytesPerElement(this KvCacheDtype dtype) => dtype == KvCacheDtype.BFloat16 ? 2 : 4;

    /// <summary>The dtype a command-line or config value names: "float32"/"fp32", "bf16"/"bfloat16" (any case).</summary>
    public static KvCacheDtype Parse(string value) => value.ToLowerInvariant() switch
    {
        "float32" or "fp32" => KvCacheDtype.Float32,
        "bf16" or "bfloat16" => KvCacheDtype.BFloat16,
        _ => throw new ArgumentException($"Unknown KV cache dtype '{value}': use float32 or bf16."),
    };
}
