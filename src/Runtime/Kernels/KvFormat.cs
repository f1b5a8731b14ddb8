using ILGPU;

namespace Specialized.Kernels;

/// <summary>
/// How the KV cache stores its elements, for the kernels that write and read it (a type parameter, so a kernel is
/// compiled for one format with no test inside). The cache is an <c>ArrayView&lt;float&gt;</c> of raw storage in either
/// case: <see cref="FloatsPerElement"/> of it an element. Indices are of elements.
/// </summary>
internal interface IKvFormat
{
    /// <summary>Storage floats an element takes: 1, or ½ for bf16 (a 32-bit word holds two).</summary>
    float FloatsPerElement { get; }

    /// <summary>Whether elements are bf16: exactly a bf16 MMA operand, with no low term to carry.</summary>
    bool IsBf16 { get; }

    /// <summary>Element <paramref name="index"/>.</summary>
    float Load(ArrayView<float> cache, int index);

    /// <summary>Elements <paramref name="index"/> .. + 3 (<paramref name="index"/> a multiple of 4): one 16- or 8-byte load.</summary>
    Float4 Load4(ArrayView<float> cache, int index);

    /// <summary>Elements <paramref name="index"/> and + 1 (<paramref name="index"/> even): one store of the pair.</summary>
    void Store2(ArrayView<float> cache, int index, float first, float second);

    /// <summary>Element <paramref name="index"/> alone (a 16-bit store for bf16): for writers whose lanes hold elements d/2 apart.</summary>
    void Store(ArrayView<float> cache, int index, float value);
}

/// <summary>float32 elements: the cache holds what the projection computed.</summary>
internal readonly struct Float32Kv : IKvFormat
{
    public float FloatsPerElement => 1f;

    public bool IsBf16 => false;

    public float Load(ArrayView<float> cache, int index) => cache[index];

    public Float4 Load4(ArrayView<float> cache, int index) => cache.Cast<Float4>()[index >> 2];

    public void Store2(ArrayView<float> cache, int index, float first, float second) =>
        cache.Cast<Float2>()[index >> 1] = new Float2 { A = first, B = second };

    public void Store(ArrayView<float> cache, int index, float value) => cache[index] = value;
}

/// <summary>
/// bf16 elements, rounded to nearest even when stored (as a bf16 model's projection in PyTorch leaves them, and as
/// SGLang's cache holds them): half the memory and half the bytes every attention step reads.
/// </summary>
internal readonly struct Bf16Kv : IKvFormat
{
    public float FloatsPerElement => 0.5f;

    public bool IsBf16 => true;

    public float Load(ArrayView<float> cache, int index)
    {
        uint word = cache.Cast<uint>()[index >> 1];
        return (index & 1) == 0 ? KernelMath.Bf16(word & 0xFFFF) : Interop.IntAsFloat(word & 0xFFFF0000u);
    }

    public Float4 Load4(ArrayView<float> cache, int index)
    {
        Words2 w = cache.Cast<Words2>()[index >> 2];
        return new Float4
        {
            A = KernelMath.Bf16(w.A & 0xFFFF), B = Interop.IntAsFloat(w.A & 0xFFFF0000u),
            C = KernelMath.Bf16(w.B & 0xFFFF), D = Interop.IntAsFloat(w.B & 0xFFFF0000u),
        };
    }

    public void Store2(ArrayView<float> cache, int index, float first, float second) =>
        cache.Cast<uint>()[index >> 1] = Mma.ToBf16(first) | (Mma.ToBf16(second) << 16);

    public void Store(ArrayView<float> cache, int index, float value) => cache.Cast<ushort>()[index] = (ushort)Mma.ToBf16(value);
}

/// <summary>Two floats: one 8-byte store.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 8)]
internal struct Float2
{
    public float A, B;
}
