using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using CsCheck;
using Specialized.Tests.Support;
using Specialized.Weights;

namespace Specialized.Tests.Weights;

/// <summary>
/// Property tests of the header parser over generated and mutated files: it either returns tensors that lie inside
/// the file's data section, do not overlap and have the size their dtype and shape demand, or it throws a
/// <see cref="CheckpointException"/> naming the file. Nothing else ever escapes it.
/// </summary>
public sealed class HeaderFuzzTests
{
    private const string FileName = "fuzz.safetensors";

    // JSON text of names, dtypes and values, valid and not, that a header might hold.
    // "t" becomes a unique name per tensor; the others may repeat.
    private static readonly Gen<string> Name = Gen.Frequency(
        (6, Gen.Const("t")), (1, Gen.OneOf("a", "__metadata__", "", "é", "\\u0000", "a\\\"b", "\\ud800")));
    private static readonly Gen<string> DTypeText = Gen.Frequency(
        (6, Gen.OneOf("\"F32\"", "\"BF16\"", "\"F16\"", "\"F64\"", "\"I64\"", "\"F8_E4M3\"", "\"BOOL\"")),
        (1, Gen.OneOf("\"F4\"", "\"Q4\"", "3", "null")));
    private static readonly Gen<string> OddValue = Gen.OneOf(
        "-1", "18446744073709551615", "18446744073709551616", "9223372036854775807", "1e3", "2.5", "\"3\"", "null",
        "2147483648", "[]", "{}", "true", "[1,2,3]", "[-1]", "[[0]]", "\"", "{\"a\":", "[9223372036854775807,9223372036854775807]");
    private static readonly Gen<string> Metadata = Gen.OneOf("", "\"__metadata__\":{\"format\":\"pt\"},", "\"__metadata__\":null,",
        "\"__metadata__\":{\"k\":1},", "\"__metadata__\":\"pt\",", "\"__metadata__\":{},");

    private static Gen<int> Mostly(int usual, int min, int max, int odds = 8) =>
        Gen.Frequency((odds, Gen.Const(usual)), (1, Gen.Int[min, max]));

    private sealed record TensorCase(string Name, string DType, int[] Shape, int Gap, int SizeDelta, int OddField, string Odd);

    private static readonly Gen<TensorCase> Tensor = Gen.Select(
        Name, DTypeText, Gen.Int[0, 5].Array[0, 3], Mostly(0, -8, 8), Mostly(0, -4, 4), Mostly(-1, 0, 4, odds: 10), OddValue,
        (n, d, s, g, sd, f, o) => new TensorCase(n, d, s, g, sd, f, o));

    /// <summary>A header laid out as a writer would, with occasional lies in it; then the file around it.</summary>
    private static readonly Gen<byte[]> Structured =
        from metadata in Metadata
        from tensors in Tensor.Array[0, 4]
        from padding in Gen.OneOf("", "  ", "       ", " x", "\n", "\0")
        from extraData in Mostly(0, -8, 8)
        from lengthDelta in Mostly(0, -3, 3, odds: 12)
        from mutations in Gen.Select(Gen.Int[0, 3], Gen.Double.Unit, Gen.Byte).Array[0, 3]
        from mutate in Gen.Frequency((2, Gen.Const(false)), (1, Gen.Const(true)))
        select Image(metadata, tensors, padding, extraData, lengthDelta, mutate ? mutations : []);

    /// <summary>Any bytes at all, with and without a plausible length prefix.</summary>
    private static readonly Gen<byte[]> Noise = Gen.Frequency(
        (1, Gen.Byte.Array[0, 80]),
        (1, Gen.Select(Gen.Byte.Array[0, 64], Gen.Int[0, 70], (body, n) => (byte[])[.. Prefix((ulong)n), .. body])));

    private static readonly Gen<byte[]> Files = Gen.Frequency((4, Structured), (1, Noise));

    [Fact]
    public void Parser_returns_tensors_inside_the_file_or_throws_only_checkpoint_exceptions()
    {
        int parsed = 0, rejected = 0;
        Files.Sample(image =>
        {
            if (ParseAndCheck(image)) Interlocked.Increment(ref parsed);
            else Interlocked.Increment(ref rejected);
        }, iter: 6000);

        // Both outcomes must be common, or the generator has stopped exploring one side of the parser.
        Assert.True(parsed > 400, $"only {parsed} of 6000 headers parsed");
        Assert.True(rejected > 400, $"only {rejected} of 6000 headers were rejected");
    }

    [Fact]
    public void Mapped_files_give_views_inside_the_file()
    {
        using var temp = new TempFolder();
        Files.Sample(image =>
        {
            string path = temp.File(Guid.NewGuid().ToString("N") + ".safetensors");
            File.WriteAllBytes(path, image);
            try
            {
                using SafetensorsFile file = SafetensorsFile.Open(path);
                foreach (TensorView view in file.Tensors)
                {
                    Assert.InRange(view.ByteOffset, 8, file.Length - view.ByteLength);
                    // Touch every byte, so a view past the mapping would fault here.
                    int sum = 0;
                    foreach (byte b in view.Bytes) sum += b;
                    Assert.True(sum >= 0);
                }
            }
            catch (CheckpointException e)
            {
                Assert.StartsWith(path + ": ", e.Message);
            }
        }, iter: 400);
    }

    /// <summary>True when the header parsed (and its tensors checked out), false when it was rejected properly.</summary>
    private static bool ParseAndCheck(byte[] image)
    {
        TensorEntry[] tensors;
        try
        {
            (_, tensors) = SafetensorsHeader.Parse(image, image.Length, FileName);
        }
        catch (CheckpointException e)
        {
            Assert.StartsWith(FileName + ": ", e.Message);
            return false;
        }

        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(image);
        long previousEnd = dataStart;
        foreach (TensorEntry t in tensors)
        {
            Assert.InRange(t.Offset, dataStart, image.Length);
            Assert.InRange(t.ByteLength, 0, image.Length - t.Offset);
            Assert.Equal(t.Shape.Aggregate(1L, (a, d) => a * d), t.ElementCount);
            Assert.Equal(t.ElementCount * t.DType.Size(), t.ByteLength);
            if (t.ByteLength == 0) continue;
            Assert.True(t.Offset >= previousEnd, $"{t.Name} overlaps the tensor before it");
            previousEnd = t.Offset + t.ByteLength;
        }
        return true;
    }

    private static byte[] Image(string metadata, TensorCase[] tensors, string padding, int extraData, int lengthDelta, (int Kind, double Where, byte Value)[] mutations)
    {
        var json = new StringBuilder("{").Append(metadata);
        long cursor = 0;
        for (int i = 0; i < tensors.Length; i++)
        {
            TensorCase t = tensors[i];
            int size = t.DType switch { "\"F64\"" or "\"I64\"" => 8, "\"F32\"" => 4, "\"BF16\"" or "\"F16\"" => 2, _ => 1 };
            long begin = Math.Max(0, cursor + t.Gap);
            long end = Math.Max(0, begin + (long)t.Shape.Aggregate(1, (a, d) => a * d) * size + t.SizeDelta);
            cursor = Math.Max(cursor, end);
            string[] fields = [t.DType, "[" + string.Join(",", t.Shape) + "]", begin.ToString(CultureInfo.InvariantCulture), end.ToString(CultureInfo.InvariantCulture)];
            if (t.OddField is >= 0 and < 4) fields[t.OddField] = t.Odd;
            string entry = t.OddField == 4 ? t.Odd : $"{{\"dtype\":{fields[0]},\"shape\":{fields[1]},\"data_offsets\":[{fields[2]},{fields[3]}]}}";
            json.Append('"').Append(t.Name == "t" ? $"t{i}" : t.Name).Append("\":").Append(entry).Append(',');
        }
        if (json[^1] == ',') json.Length--;
        json.Append('}').Append(padding);

        var header = new List<byte>(Encoding.UTF8.GetBytes(json.ToString()));
        foreach (var (kind, where, value) in mutations)
        {
            int at = (int)(where * header.Count);
            switch (kind)
            {
                case 0 when at < header.Count: header[at] = value; break;
                case 1: header.Insert(at, value); break;
                case 2 when at < header.Count: header.RemoveRange(at, Math.Min(1 + value % 8, header.Count - at)); break;
                case 3: header.RemoveRange(at, header.Count - at); break;
            }
        }
        long dataLength = Math.Max(0, cursor + extraData);
        return [.. Prefix((ulong)Math.Max(0, header.Count + lengthDelta)), .. header, .. new byte[dataLength]];
    }

    private static byte[] Prefix(ulong length)
    {
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, length);
        return prefix;
    }
}
