using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Specialized.Backends;

/// <summary>
/// bfloat16, the upper half of an IEEE float32, stored as its bit pattern in a <see cref="ushort"/>. Conversion
/// from float rounds to nearest, ties to even, and turns every NaN into the quiet NaN 0x7FC0: bit for bit what
/// PyTorch's <c>c10::BFloat16</c> does, so a checkpoint written here equals one written by <c>torch</c>.
/// </summary>
public static class BFloat16
{
    public const ushort NaN = 0x7FC0;

    public static ushort FromSingle(float value)
    {
        if (float.IsNaN(value)) return NaN;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Adding 0x7FFF rounds half down; the low bit of the kept half makes ties go to the even neighbour.
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float from = ref MemoryMarshal.GetReference(source);
            for (; i <= source.Length - 16; i += 16)
            {
                Vector256<uint> lower = Round(Vector256.LoadUnsafe(ref from, (nuint)i));
                Vector256<uint> upper = Round(Vector256.LoadUnsafe(ref from, (nuint)i + 8));
                Vector256.Narrow(lower, upper).StoreUnsafe(ref MemoryMarshal.GetReference(destination), (nuint)i);
            }
        }
        for (; i < source.Length; i++) destination[i] = FromSingle(source[i]);
    }

    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
            for (; i <= source.Length - 16; i += 16)
            {
                (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(source), (nuint)i));
                Vector256.ShiftLeft(lower, 16).StoreUnsafe(ref MemoryMarshal.GetReference(bits), (nuint)i);
                Vector256.ShiftLeft(upper, 16).StoreUnsafe(ref MemoryMarshal.GetReference(bits), (nuint)i + 8);
            }
        }
        for (; i < source.Length; i++) destination[i] = ToSingle(source[i]);
    }

    /// <summary>Eight floats rounded as <see cref="FromSingle(float)"/> does, each in the low half of its lane.</summary>
    private static Vector256<uint> Round(Vector256<float> values)
    {
        Vector256<uint> b = values.AsUInt32();
        Vector256<uint> rounded = Vector256.ShiftRightLogical(b + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(b, 16) & Vector256<uint>.One), 16);
        return Vector256.ConditionalSelect(Vector256.Equals(values, values).AsUInt32(), rounded, Vector256.Create((uint)NaN));
    }
}
