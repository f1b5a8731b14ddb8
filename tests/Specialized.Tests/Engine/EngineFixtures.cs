using Specialized.Weights;
using Specialized.Tests.Support;

namespace Specialized.Tests.Engine;

/// <summary>
/// A random-weight checkpoint of models/tiny (vocabulary 151936, hidden 64, two layers) with Qwen's real tokenizer,
/// written once per test class: text in, text out, in well under a second per request on the CPU backend.
/// </summary>
public sealed class TinyTextModel : IDisposable
{
    public TinyTextModel()
    {
        Folder = Directory.CreateTempSubdirectory("specialized-engine-").FullName;
        RandomCheckpoint.Write(File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json")), Folder, seed: 5);
        foreach (string f in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(RepoPaths.Models, "qwen-tokenizer", f), Path.Combine(Folder, f));
        }
    }

    public string Folder { get; }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The HF reference checkpoints (tools/reference), by name.</summary>
internal static class HfModels
{
    public static string Folder(string name) => Path.Combine(RepoPaths.TestSource, "Data", "models", name);
}
