using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Specialized.Backends;

namespace Specialized.Weights;

/// <summary>
/// A tensor to be written: name, dtype, shape, and how to produce its bytes. The bytes come from a callback
/// that writes them to the file's stream, so a multi-gigabyte checkpoint is never held in memory whole.
/// </summary>
public sealed class TensorToWrite
{
    private readonly int[] _shape;

    /// <param name="writeData">Writes exactly <see cref="ByteLength"/> bytes, row-major and little-endian.</param>
    public TensorToWrite(string name, SafetensorsDType dtype, int[] shape, Action<Stream> writeData)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(writeData);
        if (name == SafetensorsHeader.MetadataKey) throw new ArgumentException($"{name} is reserved for the header's metadata.", nameof(name));
        if (shape.Any(d => d < 0)) throw new ArgumentException($"{name} has a negative dimension in {ShapeText.Format(shape)}.", nameof(shape));
        Name = name;
        DType = dtype;
        _shape = [.. shape];
        ElementCount = shape.Aggregate(1L, (a, d) => checked(a * d));
        ByteLength = checked(ElementCount * dtype.Size());
        WriteData = writeData;
    }

    /// <summary>A tensor whose bytes are already in memory.</summary>
    public TensorToWrite(string name, SafetensorsDType dtype, int[] shape, ReadOnlyMemory<byte> data)
        : this(name, dtype, shape, stream => stream.Write(data.Span))
    {
        if (data.Length != ByteLength) throw new ArgumentException($"{name} is {dtype.Name()} {ShapeText.Format(shape)}: {ByteLength} bytes, not {data.Length}.", nameof(data));
    }

    /// <summary>A tensor of float values, stored as <paramref name="dtype"/> (BF16 and F16 round to nearest even).</summary>
    public static TensorToWrite FromSingles(string name, SafetensorsDType dtype, int[] shape, ReadOnlySpan<float> values)
    {
        byte[] bytes;
        switch (dtype)
        {
            case SafetensorsDType.Float32:
                bytes = MemoryMarshal.AsBytes(values).ToArray();
                break;
            case SafetensorsDType.BFloat16:
                bytes = new byte[values.Length * 2];
                BFloat16.FromSingle(values, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
                break;
            case SafetensorsDType.Float16:
                bytes = new byte[values.Length * 2];
                Span<Half> halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                break;
            default:
                throw new ArgumentException($"Float values are stored as BF16, F16 or F32, not {dtype.Name()}.", nameof(dtype));
        }
        return new TensorToWrite(name, dtype, shape, bytes);
    }

    public string Name { get; }

    public SafetensorsDType DType { get; }

    public IReadOnlyList<int> Shape => _shape;

    public long ElementCount { get; }

    public long ByteLength { get; }

    internal Action<Stream> WriteData { get; }
}

/// <summary>
/// Writes safetensors files the way Hugging Face does: an 8-byte little-endian header length; a compact JSON
/// header with <c>__metadata__</c> first, padded with spaces to a multiple of 8 bytes; then the data, in the
/// header's order. Checkpoint folders are one <c>model.safetensors</c>, or shards named
/// <c>model-00001-of-00003.safetensors</c> with a <c>model.safetensors.index.json</c>, as <c>save_pretrained</c> makes.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Hugging Face's default <c>max_shard_size</c>, "5GB".</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    private static readonly IReadOnlyDictionary<string, string> s_torchMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    private static readonly JsonWriterOptions s_compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes one file; <paramref name="metadata"/> defaults to <c>{"format": "pt"}</c>, as transformers writes.</summary>
    public static void Write(string path, IReadOnlyCollection<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var duplicate = tensors.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"{duplicate.Key} is given twice.", nameof(tensors));

        // Wider types first keeps every tensor aligned to its element size (the data starts 8-aligned); then by
        // name, which for a one-dtype checkpoint is Hugging Face's order exactly.
        TensorToWrite[] ordered = [.. tensors.OrderByDescending(t => t.DType.Size()).ThenBy(t => t.Name, StringComparer.Ordinal)];
        byte[] header = Header(ordered, metadata ?? s_torchMetadata);

        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        try
        {
            Span<byte> length = stackalloc byte[SafetensorsHeader.LengthBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (TensorToWrite t in ordered)
            {
                long before = stream.Position;
                t.WriteData(stream);
                if (stream.Position - before != t.ByteLength)
                {
                    throw new InvalidOperationException($"The data of {t.Name} came to {stream.Position - before} bytes, not {t.ByteLength}.");
                }
            }
            stream.Dispose();
        }
        catch
        {
            // A half-written file would read as a damaged checkpoint later; better none at all.
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Writes a checkpoint folder: one <c>model.safetensors</c> when everything fits in
    /// <paramref name="maxShardBytes"/>, else shards filled in the given order and an index. The entry file of the
    /// other layout is removed, so a reader cannot pick up a stale one.
    /// </summary>
    public static void WriteCheckpoint(string folder, IReadOnlyList<TensorToWrite> tensors, long maxShardBytes = DefaultMaxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(folder);

        var shards = new List<List<TensorToWrite>> { new() };
        long size = 0;
        foreach (TensorToWrite t in tensors)
        {
            if (size > 0 && size + t.ByteLength > maxShardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(t);
            size += t.ByteLength;
        }

        if (shards.Count == 1)
        {
            File.Delete(Path.Combine(folder, Checkpoint.IndexFileName));
            Write(Path.Combine(folder, Checkpoint.SingleFileName), tensors);
            return;
        }

        File.Delete(Path.Combine(folder, Checkpoint.SingleFileName));
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Write(Path.Combine(folder, file), shards[i]);
            foreach (TensorToWrite t in shards[i]) weightMap[t.Name] = file;
        }
        WriteIndex(Path.Combine(folder, Checkpoint.IndexFileName), tensors.Sum(t => t.ByteLength), weightMap);
    }

    private static byte[] Header(TensorToWrite[] ordered, IReadOnlyDictionary<string, string> metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, s_compact))
        {
            json.WriteStartObject();
            json.WriteStartObject(SafetensorsHeader.MetadataKey);
            foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (TensorToWrite t in ordered)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.Name());
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteLength;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteIndex(string path, long totalSize, SortedDictionary<string, string> weightMap)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (tensor, file) in weightMap) json.WriteString(tensor, file);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
