using Microsoft.CodeAnalysis;
using Specialized.Tests.Support;

namespace Specialized.Tests.Generator;

/// <summary>
/// The emitted source for the tiny config against a reviewed snapshot. After a deliberate change to the emitter,
/// run with SPECIALIZED_UPDATE_SNAPSHOTS=1, review the diff of the snapshot, and commit it.
/// </summary>
public sealed class SnapshotTests
{
    private static readonly string SnapshotPath = Path.Combine(RepoPaths.TestSource, "Generator", "Snapshots", "Tiny.g.cs.txt");

    [Fact]
    public void Tiny_config_emits_the_reviewed_source()
    {
        string json = File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json"));
        var (result, _) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/checkout/models/tiny/config.json", json));

        Assert.Empty(result.Diagnostics);
        GeneratedSourceResult source = Assert.Single(result.GeneratedSources);
        Assert.Equal("Specialized.Models.Tiny.g.cs", source.HintName);
        string actual = source.SourceText.ToString();

        if (Environment.GetEnvironmentVariable("SPECIALIZED_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(SnapshotPath, actual);
        }
        Assert.Equal(File.ReadAllText(SnapshotPath), actual);
    }

    [Fact]
    public void Generated_source_compiles_against_the_runtime_without_warnings()
    {
        string json = File.ReadAllText(Path.Combine(RepoPaths.Models, "Qwen2.5-7B-Instruct", "config.json"));
        var (result, output) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/checkout/models/Qwen2.5-7B-Instruct/config.json", json));

        Assert.Empty(result.Diagnostics);
        var problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        string source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("public readonly Parameter LmHead = new(\"lm_head.weight\", [152064, 3584]);", source);
        Assert.Contains("k.Attention(batch, 27, 0, x.Qkv, x.Attention);", source);
    }

    [Fact]
    public void Explicit_head_dim_and_transformers4_linear_rope_scaling_reach_the_emitted_code()
    {
        // tiny has hidden 64 and 4 heads, so head_dim 16 unless told otherwise.
        string json = File.ReadAllText(Path.Combine(RepoPaths.Models, "tiny", "config.json")).Replace("\"hidden_act\"",
            "\"head_dim\": 32, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}, \"hidden_act\"");
        var (result, output) = GeneratorHarness.Run(new GeneratorHarness.ModelFile("/checkout/models/tiny/config.json", json));

        Assert.Empty(result.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        string source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("public const int HeadDim = 32;", source);
        Assert.Contains("public const int QkvSize = 256;", source);
        Assert.Contains("OProj = new(p + \"self_attn.o_proj.weight\", [64, 128]);", source);
        Assert.Contains("public const string RopeScalingType = \"linear\";", source);
        Assert.Contains("public double RopePositionScale => 0.5D;", source);
    }
}
