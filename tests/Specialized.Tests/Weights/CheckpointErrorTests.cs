using Specialized.Tests.Support;
using Specialized.Weights;

namespace Specialized.Tests.Weights;

/// <summary>Every way a checkpoint can be bad ends in a <see cref="CheckpointException"/> that names the file and the tensor.</summary>
public sealed class CheckpointErrorTests
{
    private const string F32Pair = """{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""";

    public static TheoryData<string, string, int, ulong?, string?, string> BadHeaders() => new()
    {
        // case, header text, data bytes, header length written (null: the true one), tensor named, words of the problem
        { "length past the end", "{}", 0, 1000, null, "runs past the end of the file" },
        { "absurd length", "{}", 0, 100_000_001, null, "over the 100,000,000-byte limit" },
        { "length of 0", "{}", 0, 0, null, "not valid JSON" },
        { "not JSON", "this is not json", 0, null, null, "not valid JSON" },
        { "JSON broken inside a tensor", """{"w":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}""", 8, null, "w", "not valid JSON" },
        { "JSON cut short", """{"w":""" + F32Pair, 8, null, null, "not valid JSON" },
        { "text after the JSON", "{} {}", 0, null, null, "not valid JSON" },
        { "not an object", "[1, 2]", 0, null, null, "not a JSON object" },
        { "nesting past the reader's depth", "{\"w\":{\"x\":" + new string('[', 100) + new string(']', 100) + "}}", 0, null, "w", "not valid JSON" },
        { "tensor entry not an object", """{"w":[0,8]}""", 8, null, "w", "not an object" },
        { "duplicate tensor", """{"w":""" + F32Pair + ""","w":""" + F32Pair + "}", 8, null, "w", "lists it twice" },
        { "metadata not strings", """{"__metadata__":{"format":1}}""", 0, null, "__metadata__", "not a string" },
        { "unknown dtype", """{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}""", 8, null, "w", "'Q4_K' is not a safetensors dtype" },
        { "sub-byte dtype", """{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}""", 1, null, "w", "'F4' is not a safetensors dtype" },
        { "no dtype", """{"w":{"shape":[2],"data_offsets":[0,8]}}""", 8, null, "w", "has no dtype" },
        { "no shape", """{"w":{"dtype":"F32","data_offsets":[0,8]}}""", 8, null, "w", "has no shape" },
        { "no offsets", """{"w":{"dtype":"F32","shape":[2]}}""", 8, null, "w", "has no data_offsets" },
        { "negative dimension", """{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, null, "w", "other than an integer" },
        { "fractional dimension", """{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", 8, null, "w", "other than an integer" },
        { "dimension past int", """{"w":{"dtype":"F32","shape":[4294967296],"data_offsets":[0,8]}}""", 8, null, "w", "other than an integer" },
        { "shape overflows", """{"w":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}""", 8, null, "w", "too many elements" },
        { "bytes overflow", """{"w":{"dtype":"F64","shape":[2147483647,2147483647,2],"data_offsets":[0,8]}}""", 8, null, "w", "too many bytes" },
        { "offset past u64", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}}""", 8, null, "w", "other than an integer" },
        { "three offsets", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}""", 8, null, "w", "not a pair" },
        { "offsets reversed", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, null, "w", "end before they begin" },
        { "offsets outside the data", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, null, "w", "run past the end of the data section" },
        { "size mismatch", """{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, null, "w", "hold 8 bytes, but F32 [3] needs 12" },
        { "overlapping offsets", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, null, "b", "overlaps the data of tensor 'a'" },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Bad_header_is_a_checkpoint_exception(string @case, string header, int dataLength, ulong? headerLength, string? tensor, string problem)
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        TestCheckpoints.WriteRaw(path, header, dataLength, headerLength);

        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.True(e.Message.Contains(problem, StringComparison.Ordinal), $"{@case}: {e.Message}");
        AssertNames(e, path, tensor);

        // The folder reader reports the same file.
        var viaFolder = Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Path));
        Assert.Equal(e.Message, viaFolder.Message);
    }

    [Fact]
    public void Header_may_have_null_metadata_unknown_keys_and_padding()
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        TestCheckpoints.WriteRaw(path, """{"__metadata__":null,"w":{"dtype":"F32","future":{"x":[1]},"shape":[2],"data_offsets":[0,8]}}   """, 8);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Empty(file.Metadata);
        Assert.Equal("w", Assert.Single(file.Tensors).Name);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void File_shorter_than_the_length_prefix(int length)
    {
        using var temp = new TempFolder();
        string path = temp.File("short.safetensors");
        File.WriteAllBytes(path, new byte[length]);
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        AssertNames(e, path, null);
        Assert.Contains("too short", e.Message);
    }

    [Fact]
    public void Truncated_file_names_the_tensor_that_lost_its_data()
    {
        using var temp = new TempFolder();
        string path = temp.File("model.safetensors");
        SafetensorsWriter.Write(path, [
            TensorToWrite.FromSingles("first", SafetensorsDType.Float32, [4], [1, 2, 3, 4]),
            TensorToWrite.FromSingles("second", SafetensorsDType.Float32, [4], [5, 6, 7, 8])]);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(stream.Length - 3);

        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        AssertNames(e, path, "second");
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Missing_file_or_empty_folder()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Path));
        AssertNames(e, temp.Path, null);
        Assert.Contains(Checkpoint.IndexFileName, e.Message);

        string nowhere = temp.File("nowhere");
        AssertNames(Assert.Throws<CheckpointException>(() => Checkpoint.Open(nowhere)), nowhere, null);
        AssertNames(Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(nowhere)), nowhere, null);
    }

    [Fact]
    public void Folder_named_like_the_file_is_named_itself()
    {
        using var temp = new TempFolder();
        string single = Directory.CreateDirectory(temp.File(Checkpoint.SingleFileName)).FullName;

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Path));
        AssertNames(e, single, null);
        Assert.Contains("cannot be opened", e.Message);
        AssertNames(Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(single)), single, null);
    }

    // A sysfs attribute opens and has a size (4096 bytes) but refuses mmap with ENODEV, on any Linux, as root too.
    [LinuxFact]
    public void File_that_opens_but_cannot_be_mapped()
    {
        const string path = "/sys/devices/system/cpu/online";
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        AssertNames(e, path, null);
        Assert.Contains("cannot be memory-mapped", e.Message);
        Assert.IsAssignableFrom<IOException>(e.InnerException);
    }

    [Theory]
    [InlineData("""{"weight_map": {"w": "model-00002-of-00002.safetensors"}}""", "model-00002-of-00002.safetensors", "w", "the file does not exist")]
    [InlineData("""{"weight_map": {"other": "model-00001-of-00002.safetensors"}}""", "model-00001-of-00002.safetensors", "other", "the shard does not have it")]
    [InlineData("""{"weight_map": {"w": "../model-00001-of-00002.safetensors"}}""", Checkpoint.IndexFileName, "w", "not a file name in the checkpoint's folder")]
    [InlineData("""{"weight_map": {"w": 3}}""", Checkpoint.IndexFileName, "w", "not a file name")]
    [InlineData("""{"weight_map": {"w": "a", "w": "b"}}""", Checkpoint.IndexFileName, "w", "lists the tensor twice")]
    [InlineData("""{"metadata": {}}""", Checkpoint.IndexFileName, null, "no \"weight_map\" object")]
    [InlineData("""{"weight_map": {""", Checkpoint.IndexFileName, null, "not valid JSON")]
    public void Bad_shard_index(string index, string fileAtFault, string? tensor, string problem)
    {
        using var temp = new TempFolder();
        SafetensorsWriter.Write(temp.File("model-00001-of-00002.safetensors"), [TensorToWrite.FromSingles("w", SafetensorsDType.Float32, [1], [1f])]);
        File.WriteAllText(temp.File(Checkpoint.IndexFileName), index);

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Path));
        Assert.Contains(problem, e.Message);
        AssertNames(e, temp.File(fileAtFault), tensor);
    }

    [Fact]
    public void Bad_shard_is_named_by_its_own_path()
    {
        using var temp = new TempFolder();
        SafetensorsWriter.Write(temp.File("model-00001-of-00002.safetensors"), [TensorToWrite.FromSingles("a", SafetensorsDType.Float32, [1], [1f])]);
        string bad = temp.File("model-00002-of-00002.safetensors");
        TestCheckpoints.WriteRaw(bad, """{"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 2);
        File.WriteAllText(temp.File(Checkpoint.IndexFileName),
            """{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""");

        AssertNames(Assert.Throws<CheckpointException>(() => Checkpoint.Open(temp.Path)), bad, "b");
    }

    internal static void AssertNames(CheckpointException e, string file, string? tensor)
    {
        Assert.Equal(Path.GetFullPath(file), e.File);
        Assert.Equal(tensor, e.Tensor);
        Assert.StartsWith(Path.GetFullPath(file) + ": ", e.Message);
        if (tensor is not null) Assert.Contains($"tensor '{tensor}'", e.Message);
    }
}
