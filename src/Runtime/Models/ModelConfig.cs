namespace Specialized.Models;

/// <summary>Reads a checkpoint's config.json at run time with the same parser and rules as the build.</summary>
public static class ModelConfig
{
    /// <summary>Loads <c>config.json</c> from a checkpoint folder, or the file itself when given one.</summary>
    public static ModelSpec Load(string pathOrFolder)
    {
        string path = Directory.Exists(pathOrFolder) ? Path.Combine(pathOrFolder, "config.json") : pathOrFolder;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No config.json at {path}: pass a checkpoint folder or its config.json.", path);
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; <paramref name="path"/> only names the file in errors.</summary>
    public static ModelSpec Parse(string json, string path = "config.json")
    {
        ConfigParseResult result = ConfigParser.Parse(json);
        if (result.Spec is ModelSpec spec) return spec;
        throw new ModelConfigException(path, [.. result.Diagnostics]);
    }
}

/// <summary>A config.json that cannot describe a supported Qwen2 model; the message lists every problem with its line.</summary>
public sealed class ModelConfigException(string path, IReadOnlyList<ConfigDiagnostic> diagnostics, string? hint = null)
    : Exception(string.Join(Environment.NewLine, diagnostics.Select(d => d.Format(path)).Append(hint ?? "").Where(l => l.Length > 0)))
{
    public string Path { get; } = path;

    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; } = diagnostics;
}
