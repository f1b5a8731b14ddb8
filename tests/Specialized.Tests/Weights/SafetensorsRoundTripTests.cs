using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Specialized.Tests.Support;
using Specialized.Weights;

namespace Specialized.Tests.Weights;

/// <summary>What the writer writes, the reader reads back bit for bit, in one file or in shards.</summary>
public sealed class SafetensorsRoundTripTests
{
    [Fact]
    public void Header_has_hugging_faces_layout()
    {
        using var temp = new TempFolder();
        string path = temp.File("one.safetensors");
        SafetensorsWriter.Write(path, [TensorToWrite.FromSingles("a", SafetensorsDType.Float32, [2], [1f, 2f])]);

        byte[] file = File.ReadAllBytes(path);
        const string json = """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        int padded = (json.Length + 7) / 8 * 8;
        Assert.Equal((ulong)padded, BinaryPrimitives.ReadUInt64LittleEndian(file));
        Assert.Equal(json + new string(' ', padded - json.Length), Encoding.UTF8.GetString(file, 8, padded));
        Assert.Equal([1f, 2f], MemoryMarshal.Cast<byte, float>(file.AsSpan(8 + padded)).ToArray());
    }

    [Fact]
    public void One_file_round_trips_every_float_dtype_and_odd_shapes()
    {
        using var temp = new TempFolder();
        string path = temp.File("mixed.safetensors");
        var random = new Random(1);
        float[] bf = TestCheckpoints.RandomValues(random, 15);
        float[] f16 = TestCheckpoints.RandomValues(random, 7);
        float[] f32 = TestCheckpoints.RandomValues(random, 6);
        byte[] flags = [1, 0, 1];
        SafetensorsWriter.Write(path, [
            TensorToWrite.FromSingles("z.bf16", SafetensorsDType.BFloat16, [3, 5], bf),
            TensorToWrite.FromSingles("y.f16", SafetensorsDType.Float16, [7], f16),
            TensorToWrite.FromSingles("x.f32", SafetensorsDType.Float32, [1, 2, 3], f32),
            TensorToWrite.FromSingles("scalar", SafetensorsDType.Float32, [], [42f]),
            TensorToWrite.FromSingles("empty", SafetensorsDType.BFloat16, [0, 4], []),
            new TensorToWrite("flags", SafetensorsDType.Bool, [3], flags),
        ], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal("ünïcode \"quoted\"", file.Metadata["note"]);
        Assert.Equal(6, file.Tensors.Count);

        Assert.True(file.TryGetTensor("z.bf16", out TensorView? z));
        Assert.Equal(SafetensorsDType.BFloat16, z.DType);
        Assert.Equal([3, 5], z.Shape);
        Assert.Equal(bf, MemoryMarshal.Cast<byte, ushort>(z.Bytes).ToArray().Select(Specialized.Backends.BFloat16.ToSingle));

        Assert.True(file.TryGetTensor("y.f16", out TensorView? y));
        Assert.Equal(f16, MemoryMarshal.Cast<byte, Half>(y.Bytes).ToArray().Select(h => (float)h));

        Assert.True(file.TryGetTensor("x.f32", out TensorView? x));
        Assert.Equal([1, 2, 3], x.Shape);
        Assert.Equal(f32, MemoryMarshal.Cast<byte, float>(x.Bytes).ToArray());
        Assert.Equal(f32[2..4], MemoryMarshal.Cast<byte, float>(x.Slice(8, 8)).ToArray());

        Assert.True(file.TryGetTensor("scalar", out TensorView? scalar));
        Assert.Empty(scalar.Shape);
        Assert.Equal(1, scalar.ElementCount);
        Assert.True(file.TryGetTensor("empty", out TensorView? empty));
        Assert.Equal(0, empty.ByteLength);
        Assert.True(file.TryGetTensor("flags", out TensorView? boolean));
        Assert.Equal(flags, boolean.Bytes.ToArray());

        // Wider types come first, so every tensor is aligned to its element size.
        Assert.All(file.Tensors, t => Assert.Equal(0, t.ByteOffset % t.DType.Size()));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Slice(20, 8).Length);
    }

    [Fact]
    public void A_disposed_file_refuses_reads()
    {
        using var temp = new TempFolder();
        string path = temp.File("a.safetensors");
        SafetensorsWriter.Write(path, [TensorToWrite.FromSingles("a", SafetensorsDType.Float32, [1], [1f])]);
        SafetensorsFile file = SafetensorsFile.Open(path);
        TensorView view = file.Tensors[0];
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => view.Bytes.Length);
    }

    [Fact]
    public void Sharded_checkpoint_round_trips_through_the_index()
    {
        using var temp = new TempFolder();
        var tree = new SmallTree(tied: false);
        var (tensors, values) = TestCheckpoints.Random(tree, SafetensorsDType.BFloat16, seed: 2);
        // 64 bytes a shard: the 64-byte tensors sit alone, the smaller ones share.
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors, maxShardBytes: 64);

        string[] shards = [.. Directory.GetFiles(temp.Path, "model-*.safetensors").Select(Path.GetFileName).Order()!];
        Assert.True(shards.Length > 3);
        Assert.Equal($"model-00001-of-{shards.Length:D5}.safetensors", shards[0]);
        Assert.False(File.Exists(temp.File(Checkpoint.SingleFileName)));

        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        Assert.Equal(temp.File(Checkpoint.IndexFileName), checkpoint.IndexPath);
        Assert.Equal(shards.Length, checkpoint.Files.Count);
        Assert.Equal(values.Keys.Order(StringComparer.Ordinal), checkpoint.TensorNames.Order(StringComparer.Ordinal));
        foreach (var (name, expected) in values)
        {
            Assert.True(checkpoint.TryGetTensor(name, out TensorView? view));
            Assert.Equal(expected, MemoryMarshal.Cast<byte, ushort>(view.Bytes).ToArray().Select(Specialized.Backends.BFloat16.ToSingle));
        }

        string index = File.ReadAllText(temp.File(Checkpoint.IndexFileName));
        Assert.Contains($"\"total_size\": {tensors.Sum(t => t.ByteLength)}", index);
    }

    [Fact]
    public void Rewriting_a_folder_in_the_other_layout_leaves_no_stale_entry_file()
    {
        using var temp = new TempFolder();
        var (tensors, _) = TestCheckpoints.Random(new SmallTree(tied: true), SafetensorsDType.Float32, seed: 3);
        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors, maxShardBytes: 100);
        Assert.True(File.Exists(temp.File(Checkpoint.IndexFileName)));

        SafetensorsWriter.WriteCheckpoint(temp.Path, tensors);
        Assert.False(File.Exists(temp.File(Checkpoint.IndexFileName)));
        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        Assert.Equal(temp.File(Checkpoint.SingleFileName), checkpoint.IndexPath);
        Assert.Single(checkpoint.Files);

        using Checkpoint direct = Checkpoint.Open(temp.File(Checkpoint.SingleFileName));
        Assert.Equal(checkpoint.TensorNames.Count, direct.TensorNames.Count);
    }

    [Fact]
    public void Writer_rejects_data_of_the_wrong_length_and_leaves_no_file()
    {
        using var temp = new TempFolder();
        string path = temp.File("bad.safetensors");
        Assert.Throws<ArgumentException>(() => new TensorToWrite("a", SafetensorsDType.Float32, [2], new byte[4]));
        var shortWriter = new TensorToWrite("a", SafetensorsDType.Float32, [2], stream => stream.Write(new byte[4]));
        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, [shortWriter]));
        Assert.False(File.Exists(path));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, [
            TensorToWrite.FromSingles("a", SafetensorsDType.Float32, [1], [1f]),
            TensorToWrite.FromSingles("a", SafetensorsDType.Float32, [1], [2f])]));
    }
}
