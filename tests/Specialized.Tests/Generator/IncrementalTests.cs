extern alias gen;

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Specialized.Tests.Support;
using ModelGenerator = gen::Specialized.Generators.ModelGenerator;

namespace Specialized.Tests.Generator;

/// <summary>The generator's cache: an unrelated edit regenerates nothing; an edit of a config regenerates.</summary>
public sealed class IncrementalTests
{
    private static readonly GeneratorHarness.ModelFile[] Files =
    [
        new("/checkout/models/tiny/config.json", File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json"))),
        new("/checkout/models/Qwen2.5-0.5B-Instruct/config.json",
            File.ReadAllText(Path.Combine(RepoPaths.Models, "Qwen2.5-0.5B-Instruct", "config.json"))),
    ];

    [Fact]
    public void An_unrelated_source_edit_regenerates_nothing()
    {
        Compilation first = GeneratorHarness.EmptyCompilation("class A { }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(Files).RunGenerators(first);

        Compilation second = first.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class B { }", GeneratorHarness.ParseOptions));
        GeneratorRunResult result = driver.RunGenerators(second).GetRunResult().Results.Single();

        Assert.Equal(2, result.GeneratedSources.Length);
        foreach (string step in new[] { ModelGenerator.RequestsStep, ModelGenerator.ParsedStep })
        {
            var reasons = result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.Equal(2, reasons.Count);
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        }
        var outputs = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void Editing_one_config_reparses_only_that_config()
    {
        Compilation compilation = GeneratorHarness.EmptyCompilation("class A { }");
        AdditionalText[] texts = Files.Select(GeneratorHarness.Text).ToArray();
        GeneratorDriver driver = GeneratorHarness.CreateDriver(texts, Files).RunGenerators(compilation);

        var edited = Files[0] with { Json = Files[0].Json.Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3") };
        driver = driver.ReplaceAdditionalText(texts[0], GeneratorHarness.Text(edited)).RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        var parsed = result.TrackedSteps[ModelGenerator.ParsedStep].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, parsed);
        Assert.Contains(parsed, r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
        string tiny = result.GeneratedSources.Single(s => s.HintName == "Specialized.Models.Tiny.g.cs").SourceText.ToString();
        Assert.Contains("public const int NumHiddenLayers = 3;", tiny);
    }
}
