using System.Text;
using System.Text.Json;

namespace Specialized.Benchmarks;

/// <summary>Inputs the benchmarks read from the repository, found from wherever BenchmarkDotNet runs them.</summary>
internal static class RepoFiles
{
    /// <summary>The size the encode benchmark text reaches, in UTF-8 bytes.</summary>
    public const int BenchmarkTextBytes = 1_000_000;

    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    public static string QwenTokenizer => Path.Combine(Models, "qwen-tokenizer");

    private static readonly Lazy<string> LazyBenchmarkText = new(BuildBenchmarkText);

    /// <summary>
    /// About 1 MB of mixed text: the tokenizer test corpus (prose, code, numbers, whitespace, many scripts, emoji,
    /// special tokens, long words), each string followed by "\n", cycled until the UTF-8 size reaches
    /// <see cref="BenchmarkTextBytes"/>. tools/reference/tokenizer_golden.py builds the identical text to time HF.
    /// </summary>
    public static string BenchmarkText => LazyBenchmarkText.Value;

    public static int BenchmarkTextUtf8Bytes => Encoding.UTF8.GetByteCount(BenchmarkText);

    private static string BuildBenchmarkText()
    {
        string corpusPath = Path.Combine(Root, "tests", "Specialized.Tests", "Text", "Data", "corpus.json");
        using JsonDocument corpus = JsonDocument.Parse(File.ReadAllBytes(corpusPath));
        string[] strings = [.. corpus.RootElement.GetProperty("strings").EnumerateArray().Select(s => s.GetProperty("text").GetString()!)];

        var text = new StringBuilder();
        for (int i = 0, bytes = 0; bytes < BenchmarkTextBytes; i++)
        {
            string piece = strings[i % strings.Length] + "\n";
            text.Append(piece);
            bytes += Encoding.UTF8.GetByteCount(piece);
        }
        return text.ToString();
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Specialized.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Specialized.sln not found above " + AppContext.BaseDirectory + "; run the benchmarks from the repository.");
    }
}
