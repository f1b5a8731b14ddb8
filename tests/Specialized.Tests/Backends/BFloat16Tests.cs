using CsCheck;
using Specialized.Backends;

namespace Specialized.Tests.Backends;

/// <summary>bfloat16 conversion matches PyTorch's c10::BFloat16: round to nearest even, one quiet NaN.</summary>
public sealed class BFloat16Tests
{
    [Theory]
    [InlineData(0x3F800000u, 0x3F80)]  // 1.0
    [InlineData(0x3F807FFFu, 0x3F80)]  // just under half an ulp: down
    [InlineData(0x3F808000u, 0x3F80)]  // tie, kept half even: stays
    [InlineData(0x3F818000u, 0x3F82)]  // tie, kept half odd: up to even
    [InlineData(0x3F808001u, 0x3F81)]  // just over half an ulp: up
    [InlineData(0xBF808001u, 0xBF81)]  // sign does not change the rounding
    [InlineData(0x80000000u, 0x8000)]  // -0
    [InlineData(0x00018000u, 0x0002)]  // subnormal tie to even
    [InlineData(0x7F7FFFFFu, 0x7F80)]  // float.MaxValue overflows to +inf, as in torch
    [InlineData(0xFF800000u, 0xFF80)]  // -inf
    [InlineData(0x7F800001u, 0x7FC0)]  // signalling NaN
    [InlineData(0xFFC12345u, 0x7FC0)]  // negative NaN with payload
    public void Rounds_like_torch(uint floatBits, int expected)
    {
        float value = BitConverter.UInt32BitsToSingle(floatBits);
        Assert.Equal((ushort)expected, BFloat16.FromSingle(value));
        var one = new ushort[1];
        BFloat16.FromSingle([value], one);
        Assert.Equal((ushort)expected, one[0]);
    }

    [Fact]
    public void Every_bfloat16_round_trips_through_float()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float value = BFloat16.ToSingle((ushort)bits);
            ushort back = BFloat16.FromSingle(value);
            Assert.Equal(float.IsNaN(value) ? BFloat16.NaN : (ushort)bits, back);
        }
    }

    [Fact]
    public void Span_conversions_equal_the_scalar_ones()
    {
        Gen.UInt.Array[0, 100].Sample(bits =>
        {
            float[] values = [.. bits.Select(BitConverter.UInt32BitsToSingle)];
            var packed = new ushort[values.Length];
            BFloat16.FromSingle(values, packed);
            Assert.Equal(values.Select(BFloat16.FromSingle), packed);

            var widened = new float[packed.Length];
            BFloat16.ToSingle(packed, widened);
            Assert.Equal(packed.Select(b => BitConverter.SingleToUInt32Bits(BFloat16.ToSingle(b))), widened.Select(BitConverter.SingleToUInt32Bits));
        }, iter: 2000);
    }
}
