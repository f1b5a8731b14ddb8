using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Specialized.Tests.Support;

namespace Specialized.Tests.Generator;

/// <summary>The model's type name: every name the generator accepts compiles, and the ones that would not are SPEC010.</summary>
public sealed class TypeNameTests
{
    private static readonly string TinyJson = File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json"));

    [Theory]
    [InlineData("Model")]
    [InlineData("Dims")]
    [InlineData("Weights")]
    [InlineData("Layer")]
    [InlineData("Descriptor")]
    [InlineData("Spec")]
    [InlineData("Instance")]
    public void SPEC010_a_type_name_taken_by_the_generated_type(string name)
    {
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/m/tiny/config.json", TinyJson, TypeName: name));
        Assert.Empty(result.GeneratedSources);
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("SPEC010", d.Id);
        Assert.Contains($"cannot be called \"{name}\" (given by TypeName)", d.GetMessage());
    }

    [Fact]
    public void SPEC010_a_folder_name_taken_by_the_generated_type()
    {
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/checkout/model/config.json", TinyJson));
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("SPEC010", d.Id);
        Assert.Contains("cannot be called \"Model\" (named after the config's folder)", d.GetMessage());
    }

    [Fact]
    public void A_config_without_a_folder_gets_a_free_name()
    {
        var (result, output) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/config.json", TinyJson));
        Assert.Empty(result.Diagnostics);
        Assert.Equal("Specialized.Models.Qwen2Model.g.cs", Assert.Single(result.GeneratedSources).HintName);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    /// <summary>
    /// Every name the emitted code uses, declares or inherits, tried as the type name: each is rejected with
    /// SPEC010 or gives code that compiles. Derived from the emitted source, so a new member cannot be forgotten.
    /// </summary>
    [Fact]
    public void Every_name_in_the_emitted_code_is_rejected_or_compiles()
    {
        var (_, tiny) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/m/tiny/config.json", TinyJson));
        SyntaxTree generated = tiny.SyntaxTrees.Single(t => t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal));
        SyntaxNode root = generated.GetRoot();
        var names = new SortedSet<string>(StringComparer.Ordinal);
        names.UnionWith(root.DescendantTokens().Where(t => t.IsKind(SyntaxKind.IdentifierToken)).Select(t => t.ValueText));
        names.UnionWith(root.DescendantNodes().OfType<AttributeSyntax>().Select(a => a.Name.ToString() + "Attribute"));
        INamedTypeSymbol model = tiny.GetTypeByMetadataName("Specialized.Models.Tiny")!;
        foreach (INamedTypeSymbol type in model.GetTypeMembers().Prepend(model))
        {
            for (INamedTypeSymbol? t = type; t is not null; t = t.BaseType)
            {
                names.UnionWith(t.GetMembers().Where(m => m.CanBeReferencedByName).Select(m => m.Name));
            }
        }

        var failures = new List<string>();
        foreach (string name in names)
        {
            var (result, output) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/m/tiny/config.json", TinyJson, TypeName: name));
            if (result.Diagnostics.Length == 1 && result.Diagnostics[0].Id == "SPEC010" && result.GeneratedSources.IsEmpty) continue;
            var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            if (result.Diagnostics.IsEmpty && errors.Count == 0) continue;
            failures.Add($"{name}: {string.Join("; ", result.Diagnostics.Concat(errors).Take(2))}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {names.Count} names:\n" + string.Join("\n", failures));
    }
}
