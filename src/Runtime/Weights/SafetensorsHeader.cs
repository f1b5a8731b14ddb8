using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;

namespace Specialized.Weights;

/// <summary>One tensor as a safetensors header describes it, its offset made absolute within the file.</summary>
internal sealed record TensorEntry(string Name, SafetensorsDType DType, int[] Shape, long ElementCount, long Offset, long ByteLength);

/// <summary>
/// Parses and checks a safetensors header: an 8-byte little-endian length N, then N bytes of JSON mapping each
/// tensor name to its dtype, shape and <c>data_offsets</c> [begin, end) within the data that follows, plus an
/// optional <c>__metadata__</c> object of strings. It reads nothing but the span it is given, and every way a
/// header can be wrong ends in a <see cref="CheckpointException"/>: the reader never sees a JSON or overflow error.
/// </summary>
internal static class SafetensorsHeader
{
    public const int LengthBytes = 8;

    /// <summary>The limit the reference implementation enforces; a larger length is a damaged or foreign file.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    /// <summary>How many leading bytes of a file <see cref="Parse"/> needs: the whole file, or the largest legal header.</summary>
    public static int PrefixLength(long fileLength) => (int)Math.Min(fileLength, LengthBytes + MaxHeaderBytes);

    public static CheckpointException TooShort(string file, long fileLength) =>
        new(file, null, $"is {fileLength} bytes long, too short for a safetensors file (an 8-byte header length, then the header)");

    /// <summary>
    /// Parses the header of a file of <paramref name="fileLength"/> bytes whose first bytes are <paramref name="start"/>
    /// (at least <see cref="PrefixLength"/> of them). Tensors come back in the order of their data in the file.
    /// </summary>
    public static (IReadOnlyDictionary<string, string> Metadata, TensorEntry[] Tensors) Parse(ReadOnlySpan<byte> start, long fileLength, string file)
    {
        if (fileLength < LengthBytes) throw TooShort(file, fileLength);
        if (start.Length < PrefixLength(fileLength)) throw new ArgumentException("The span does not hold the file's header.", nameof(start));

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(start);
        if (headerLength > MaxHeaderBytes)
        {
            throw new CheckpointException(file, null,
                $"the header length {headerLength} is over the {MaxHeaderBytes.ToString("N0", CultureInfo.InvariantCulture)}-byte limit: the file is not safetensors, or it is damaged");
        }
        long dataStart = LengthBytes + (long)headerLength;
        if (dataStart > fileLength)
        {
            throw new CheckpointException(file, null,
                $"the header length {headerLength} runs past the end of the file ({fileLength} bytes): the file is truncated or damaged");
        }

        var parser = new Parser(file, dataStart, fileLength - dataStart);
        parser.Run(start[LengthBytes..(int)dataStart]);
        TensorEntry[] tensors = [.. parser.Tensors.OrderBy(t => t.Offset).ThenBy(t => t.ByteLength)];
        CheckNoOverlap(tensors, file);
        return (parser.Metadata, tensors);
    }

    private static void CheckNoOverlap(TensorEntry[] sorted, string file)
    {
        TensorEntry? previous = null;
        foreach (TensorEntry t in sorted)
        {
            // An empty tensor occupies no bytes, so it cannot overlap anything.
            if (t.ByteLength == 0) continue;
            if (previous is not null && t.Offset < previous.Offset + previous.ByteLength)
            {
                throw new CheckpointException(file, t.Name, $"its data {Range(t)} overlaps the data of tensor '{previous.Name}' {Range(previous)}");
            }
            previous = t;
        }

        string Range(TensorEntry e) => $"[{e.Offset}, {e.Offset + e.ByteLength}) of the file";
    }

    private sealed class Parser(string file, long dataStart, long dataLength)
    {
        private string? _tensor;

        public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

        public List<TensorEntry> Tensors { get; } = [];

        public void Run(ReadOnlySpan<byte> json)
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            try
            {
                ReadHeader(ref reader);
            }
            // Utf8JsonReader reports bad syntax with JsonException and undecodable strings with InvalidOperationException.
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                throw new CheckpointException(file, _tensor, $"the header is not valid JSON: {e.Message}", e);
            }
        }

        private void ReadHeader(ref Utf8JsonReader reader)
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw Bad("the header is not a JSON object");
            var names = new HashSet<string>(StringComparer.Ordinal);
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                _tensor = name;
                if (!names.Add(name)) throw Bad("the header lists it twice");
                if (name == MetadataKey)
                {
                    ReadMetadata(ref reader);
                }
                else
                {
                    Tensors.Add(ReadTensor(ref reader, name));
                }
                _tensor = null;
            }
            // Trailing spaces are the writer's padding; anything else after the object makes Read throw.
            if (reader.Read()) throw Bad("the header has more than one JSON value");
        }

        private void ReadMetadata(ref Utf8JsonReader reader)
        {
            JsonTokenType token = Next(ref reader);
            if (token == JsonTokenType.Null) return;
            if (token != JsonTokenType.StartObject) throw Bad("__metadata__ is not an object of strings");
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                string key = reader.GetString()!;
                if (Next(ref reader) != JsonTokenType.String) throw Bad($"__metadata__ entry '{key}' is not a string");
                Metadata[key] = reader.GetString()!;
            }
        }

        private TensorEntry ReadTensor(ref Utf8JsonReader reader, string name)
        {
            if (Next(ref reader) != JsonTokenType.StartObject) throw Bad("its entry is not an object with dtype, shape and data_offsets");
            SafetensorsDType? dtype = null;
            int[]? shape = null;
            long[]? offsets = null;
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                if (reader.ValueTextEquals("dtype"u8))
                {
                    if (Next(ref reader) != JsonTokenType.String) throw Bad("its dtype is not a string");
                    string text = reader.GetString()!;
                    if (!SafetensorsDTypes.TryParse(text, out SafetensorsDType parsed)) throw Bad($"its dtype {Quote(text)} is not a safetensors dtype this reader supports");
                    dtype = parsed;
                }
                else if (reader.ValueTextEquals("shape"u8))
                {
                    shape = [.. ReadIntegers(ref reader, "shape", int.MaxValue).Select(d => (int)d)];
                }
                else if (reader.ValueTextEquals("data_offsets"u8))
                {
                    offsets = ReadIntegers(ref reader, "data_offsets", long.MaxValue);
                    if (offsets.Length != 2) throw Bad("its data_offsets is not a pair [begin, end]");
                }
                else
                {
                    // Keys this reader does not know are a newer writer's business, not an error.
                    reader.Skip();
                }
            }
            if (dtype is not SafetensorsDType type) throw Bad("it has no dtype");
            if (shape is null) throw Bad("it has no shape");
            if (offsets is null) throw Bad("it has no data_offsets");

            long elements = 1;
            foreach (int d in shape)
            {
                if (d != 0 && elements > long.MaxValue / d) throw Bad($"its shape {ShapeText.Format(shape)} has too many elements");
                elements *= d;
            }
            if (elements > long.MaxValue / type.Size()) throw Bad($"its shape {ShapeText.Format(shape)} has too many bytes");
            long bytes = elements * type.Size();

            (long begin, long end) = (offsets[0], offsets[1]);
            if (begin > end) throw Bad($"its data_offsets [{begin}, {end}) end before they begin");
            if (end > dataLength)
            {
                throw Bad($"its data_offsets [{begin}, {end}) run past the end of the data section ({dataLength} bytes): the file is truncated or damaged");
            }
            if (end - begin != bytes)
            {
                throw Bad($"its data_offsets [{begin}, {end}) hold {end - begin} bytes, but {type.Name()} {ShapeText.Format(shape)} needs {bytes}");
            }
            return new TensorEntry(name, type, shape, elements, dataStart + begin, bytes);
        }

        private long[] ReadIntegers(ref Utf8JsonReader reader, string what, long max)
        {
            if (Next(ref reader) != JsonTokenType.StartArray) throw Bad($"its {what} is not an array of integers");
            var values = new List<long>();
            while (Next(ref reader) != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0 || v > max)
                {
                    throw Bad($"its {what} holds something other than an integer in [0, {max}]");
                }
                values.Add(v);
            }
            return [.. values];
        }

        private JsonTokenType Next(ref Utf8JsonReader reader)
        {
            // The header is one final block: running out inside an object throws JsonException, so this is a backstop.
            if (!reader.Read()) throw Bad("the header ends in the middle of a JSON value");
            return reader.TokenType;
        }

        private CheckpointException Bad(string problem) => new(file, _tensor, problem);

        private static string Quote(string text) => text.Length <= 32 ? $"'{text}'" : $"'{text[..32]}...'";
    }
}
