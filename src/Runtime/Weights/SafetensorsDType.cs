namespace Specialized.Weights;

/// <summary>
/// The element types a safetensors header may name, each a whole number of bytes. The reader knows them all so
/// it can check the size of every tensor, even one the model will not load; only BF16, F16 and F32 bind to weights.
/// </summary>
public enum SafetensorsDType
{
    Bool,
    UInt8,
    Int8,
    Float8E5M2,
    Float8E4M3,
    Float8E8M0,
    Int16,
    UInt16,
    Float16,
    BFloat16,
    Int32,
    UInt32,
    Float32,
    Float64,
    Int64,
    UInt64,
}

public static class SafetensorsDTypes
{
    private static readonly string[] s_names =
        ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"];

    private static readonly int[] s_sizes = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8];

    /// <summary>The name in a safetensors header, e.g. <c>BF16</c>.</summary>
    public static string Name(this SafetensorsDType dtype) => s_names[(int)dtype];

    public static int Size(this SafetensorsDType dtype) => s_sizes[(int)dtype];

    public static bool TryParse(ReadOnlySpan<char> name, out SafetensorsDType dtype)
    {
        for (int i = 0; i < s_names.Length; i++)
        {
            if (name.SequenceEqual(s_names[i]))
            {
                dtype = (SafetensorsDType)i;
                return true;
            }
        }
        dtype = default;
        return false;
    }
}
