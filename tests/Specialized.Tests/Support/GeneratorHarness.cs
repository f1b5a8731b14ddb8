extern alias gen;

using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ModelGenerator = gen::Specialized.Generators.ModelGenerator;

namespace Specialized.Tests.Support;

/// <summary>Runs the model generator in process, the way the compiler does, on in-memory config files.</summary>
internal sealed class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>A consumer sees the runtime and the framework, not the generator or models generated elsewhere.</summary>
    private static readonly HashSet<string> ExcludedFromConsumer = ["Specialized.Generators", "Specialized.Models", "Specialized.Tests"];

    private static readonly ImmutableArray<MetadataReference> s_references =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
        .Where(p => p.Length > 0 && !ExcludedFromConsumer.Contains(Path.GetFileNameWithoutExtension(p)))
        .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
        .ToImmutableArray();

    /// <summary>A model item: a config.json at <paramref name="path"/> with optional item metadata.</summary>
    public sealed record ModelFile(string Path, string Json, string? TypeName = null, string? Namespace = null);

    public static CSharpCompilation EmptyCompilation(params string[] sources) =>
        CSharpCompilation.Create("Consumer",
            sources.Select(s => CSharpSyntaxTree.ParseText(s, ParseOptions)),
            s_references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static AdditionalText Text(ModelFile file) => new InMemoryText(file.Path, file.Json);

    public static GeneratorDriver CreateDriver(params ModelFile[] files) => CreateDriver(files.Select(Text).ToArray(), files);

    /// <summary>A driver over given texts; item metadata is looked up by path in <paramref name="files"/>.</summary>
    public static GeneratorDriver CreateDriver(AdditionalText[] texts, ModelFile[] files) =>
        CSharpGeneratorDriver.Create(
            [new ModelGenerator().AsSourceGenerator()],
            texts,
            ParseOptions,
            new OptionsProvider(files),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once; returns its result and the compilation with the generated code added.</summary>
    public static (GeneratorRunResult Result, Compilation Output) Run(params ModelFile[] files)
    {
        GeneratorDriver driver = CreateDriver(files).RunGeneratorsAndUpdateCompilation(EmptyCompilation(), out Compilation output, out _);
        return (driver.GetRunResult().Results.Single(), output);
    }

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path => path;
        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }

    private sealed class OptionsProvider(ModelFile[] files) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions => new Options([]);
        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
        {
            ModelFile? file = files.FirstOrDefault(f => f.Path == textFile.Path);
            var values = new Dictionary<string, string>();
            if (file is not null)
            {
                values["build_metadata.AdditionalFiles.SpecializedModel"] = "true";
                if (file.TypeName is not null) values["build_metadata.AdditionalFiles.TypeName"] = file.TypeName;
                if (file.Namespace is not null) values["build_metadata.AdditionalFiles.Namespace"] = file.Namespace;
            }
            return new Options(values);
        }
    }

    private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}
