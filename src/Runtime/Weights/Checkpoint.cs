using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Specialized.Weights;

/// <summary>
/// The tensors of a Hugging Face checkpoint folder: one <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c>, whose <c>weight_map</c> names the shard of every tensor. Each shard is
/// mapped once; the index is the table of contents, so a tensor a shard holds but the index does not list is
/// not part of the checkpoint.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, TensorView> _tensors;

    private Checkpoint(string folder, string indexPath, IReadOnlyList<SafetensorsFile> files, Dictionary<string, TensorView> tensors)
    {
        Folder = folder;
        IndexPath = indexPath;
        Files = files;
        _tensors = tensors;
    }

    /// <summary>
    /// Opens a checkpoint folder (the index wins when both layouts are present), or names one file directly:
    /// a .safetensors file or a shard index.
    /// </summary>
    public static Checkpoint Open(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            // Anything at these names, a folder included, is opened, so that what is wrong with it is told of it
            // rather than of the checkpoint folder.
            string index = Path.Combine(full, IndexFileName);
            if (Path.Exists(index)) return OpenSharded(index);
            string single = Path.Combine(full, SingleFileName);
            if (Path.Exists(single)) return OpenSingle(single);
            throw new CheckpointException(full, null, $"the folder has neither {SingleFileName} nor {IndexFileName}");
        }
        if (File.Exists(full)) return full.EndsWith(".index.json", StringComparison.Ordinal) ? OpenSharded(full) : OpenSingle(full);
        throw new CheckpointException(full, null, "no such file or folder");
    }

    /// <summary>The folder that holds the files.</summary>
    public string Folder { get; }

    /// <summary>The file that lists the tensors: the shard index, or the single .safetensors file.</summary>
    public string IndexPath { get; }

    /// <summary>The mapped files, each once.</summary>
    public IReadOnlyList<SafetensorsFile> Files { get; }

    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    public bool TryGetTensor(string name, [NotNullWhen(true)] out TensorView? tensor) => _tensors.TryGetValue(name, out tensor);

    public void Dispose()
    {
        foreach (SafetensorsFile file in Files) file.Dispose();
    }

    private static Checkpoint OpenSingle(string path)
    {
        SafetensorsFile file = SafetensorsFile.Open(path);
        return new Checkpoint(Path.GetDirectoryName(path)!, path, [file], file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal));
    }

    private static Checkpoint OpenSharded(string indexPath)
    {
        string folder = Path.GetDirectoryName(indexPath)!;
        List<(string Tensor, string Shard)> weightMap = ReadWeightMap(indexPath);
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var tensors = new Dictionary<string, TensorView>(StringComparer.Ordinal);
            foreach ((string tensor, string shard) in weightMap)
            {
                if (!shards.TryGetValue(shard, out SafetensorsFile? file))
                {
                    string shardPath = Path.Combine(folder, shard);
                    if (!File.Exists(shardPath)) throw new CheckpointException(shardPath, tensor, $"{IndexFileName} puts the tensor in this shard, but the file does not exist");
                    file = SafetensorsFile.Open(shardPath);
                    shards.Add(shard, file);
                }
                if (!file.TryGetTensor(tensor, out TensorView? view))
                {
                    throw new CheckpointException(file.Path, tensor, $"{IndexFileName} puts the tensor in this shard, but the shard does not have it");
                }
                tensors.Add(tensor, view);
            }
            return new Checkpoint(folder, indexPath, [.. shards.Values], tensors);
        }
        catch
        {
            foreach (SafetensorsFile file in shards.Values) file.Dispose();
            throw;
        }
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string indexPath)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException(indexPath, null, "the index has no \"weight_map\" object");
            }
            var entries = new List<(string, string)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                if (!seen.Add(entry.Name)) throw new CheckpointException(indexPath, entry.Name, "weight_map lists the tensor twice");
                string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                // A shard is a file beside the index: a path elsewhere is a broken or hostile index.
                if (string.IsNullOrEmpty(shard) || shard != Path.GetFileName(shard) || shard is "." or ".." || shard.Contains('\\'))
                {
                    throw new CheckpointException(indexPath, entry.Name, $"weight_map's shard for the tensor is {entry.Value.GetRawText()}, not a file name in the checkpoint's folder");
                }
                entries.Add((entry.Name, shard));
            }
            return entries;
        }
        catch (JsonException e)
        {
            throw new CheckpointException(indexPath, null, $"the index is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(indexPath, null, $"cannot be read: {e.Message}", e);
        }
    }
}
