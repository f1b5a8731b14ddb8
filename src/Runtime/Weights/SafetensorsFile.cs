using System.Diagnostics.CodeAnalysis;
using System.IO.MemoryMappedFiles;

namespace Specialized.Weights;

/// <summary>
/// One .safetensors file, memory-mapped read-only. Opening it reads and checks the header (see
/// <see cref="SafetensorsHeader"/>); tensor data is never copied into managed memory but read in place through
/// <see cref="TensorView"/>s, so the operating system pages in only what a loader touches. Dispose unmaps the
/// file: spans taken from its views must not outlive it. The file must not be truncated while it is open.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, TensorView> _byName;
    private byte* _pointer;

    private SafetensorsFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _pointer = pointer;
        var (metadata, entries) = SafetensorsHeader.Parse(new ReadOnlySpan<byte>(pointer, SafetensorsHeader.PrefixLength(length)), length, path);
        Metadata = metadata;
        Tensors = [.. entries.Select(e => new TensorView(this, e.Name, e.DType, e.Shape, e.ElementCount, e.Offset, e.ByteLength))];
        _byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Maps and checks a file; a bad file is a <see cref="CheckpointException"/> naming it.</summary>
    public static SafetensorsFile Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(full, null, $"cannot be opened: {e.Message}", e);
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            long length = stream.Length;
            // An empty file cannot be mapped at all, so a too-short one is turned away before mapping.
            if (length < SafetensorsHeader.LengthBytes) throw SafetensorsHeader.TooShort(full, length);
            try
            {
                map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
                view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            }
            // A file can open yet refuse mapping: one on a file system without mmap (sysfs, some FUSE and network
            // mounts), or one too large for the address space.
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointException(full, null, $"cannot be memory-mapped: {e.Message}", e);
            }
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new SafetensorsFile(full, length, map, view, pointer + view.PointerOffset);
        }
        catch
        {
            if (pointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The size of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>The header's <c>__metadata__</c> (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor, in the order of its data in the file.</summary>
    public IReadOnlyList<TensorView> Tensors { get; }

    public bool TryGetTensor(string name, [NotNullWhen(true)] out TensorView? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary><paramref name="length"/> bytes of the file at <paramref name="offset"/>; the caller keeps within the file.</summary>
    internal ReadOnlySpan<byte> Read(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_pointer == null, this);
        return new ReadOnlySpan<byte>(_pointer + offset, length);
    }

    public void Dispose()
    {
        if (_pointer == null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    public override string ToString() => Path;
}

/// <summary>
/// A tensor inside a mapped <see cref="SafetensorsFile"/>: its name, dtype, shape and the bytes of its data,
/// read in place (row-major, little-endian, as safetensors stores them).
/// </summary>
public sealed class TensorView
{
    private readonly int[] _shape;

    internal TensorView(SafetensorsFile file, string name, SafetensorsDType dtype, int[] shape, long elementCount, long byteOffset, long byteLength)
    {
        File = file;
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        ByteOffset = byteOffset;
        ByteLength = byteLength;
    }

    public SafetensorsFile File { get; }

    public string Name { get; }

    public SafetensorsDType DType { get; }

    public IReadOnlyList<int> Shape => _shape;

    public long ElementCount { get; }

    /// <summary>Where the data starts, from the beginning of the file.</summary>
    public long ByteOffset { get; }

    public long ByteLength { get; }

    /// <summary>All of the data. A tensor of 2 GiB or more does not fit one span: read it with <see cref="Slice"/>.</summary>
    public ReadOnlySpan<byte> Bytes => ByteLength <= int.MaxValue
        ? File.Read(ByteOffset, (int)ByteLength)
        : throw new InvalidOperationException($"{Name} is {ByteLength} bytes, too large for one span: read it in slices.");

    /// <summary><paramref name="length"/> bytes of the data from byte <paramref name="start"/> of the tensor.</summary>
    public ReadOnlySpan<byte> Slice(long start, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (start > ByteLength - length) throw new ArgumentOutOfRangeException(nameof(length), $"[{start}, {start + length}) is outside the {ByteLength} bytes of {Name}.");
        return File.Read(ByteOffset + start, length);
    }

    public override string ToString() => $"{Name} {DType.Name()} {ShapeText.Format(_shape)}";
}
