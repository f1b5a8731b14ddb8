using Specialized.Tests.Support;

namespace Specialized.Tests.Generator;

/// <summary>
/// The generator as a user meets it: a fresh console project outside the repository references the runtime and the
/// generator, opts in a Qwen2 config no build has seen, and builds with the real SDK. Slow (two builds), so only
/// the two outcomes that matter: it builds and exposes the constants, or it fails with a SPEC error at the line.
/// </summary>
public sealed class ConsumerProjectTests : IDisposable
{
    // A shape no config under models/ has: Qwen2.5-3B-Instruct's dimensions.
    internal const string UnseenConfig = """
        {
          "architectures": [
            "Qwen2ForCausalLM"
          ],
          "bos_token_id": 151643,
          "eos_token_id": 151645,
          "hidden_act": "silu",
          "hidden_size": 2048,
          "intermediate_size": 11008,
          "max_position_embeddings": 32768,
          "model_type": "qwen2",
          "num_attention_heads": 16,
          "num_hidden_layers": 36,
          "num_key_value_heads": 2,
          "rms_norm_eps": 1e-06,
          "rope_theta": 1000000.0,
          "tie_word_embeddings": true,
          "torch_dtype": "bfloat16",
          "vocab_size": 151936
        }
        """;

    private const string Program = """
        using Specialized.Models;

        Console.WriteLine($"hidden={Qwen2_5_3B.HiddenSize} layers={Qwen2_5_3B.NumHiddenLayers} head_dim={Qwen2_5_3B.HeadDim} kv={new Qwen2_5_3B.Dims().NumKvHeads}");
        Console.WriteLine($"registered={ModelRegistry.Find(ModelConfig.Load("qwen2.5-3b/config.json"))?.Name}");
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("specialized-consumer-").FullName;

    [Fact]
    public void A_fresh_project_specializes_an_unseen_config()
    {
        WriteProject(UnseenConfig);
        var (code, output) = Dotnet("build", "-c", "Debug", "-o", Path.Combine(_dir, "out"));
        Assert.True(code == 0, output);

        var (runCode, runOutput) = Dotnet(Path.Combine(_dir, "out", "Consumer.dll"));
        Assert.True(runCode == 0, runOutput);
        Assert.Contains("hidden=2048 layers=36 head_dim=128 kv=2", runOutput);
        Assert.Contains("registered=Qwen2_5_3B", runOutput);
    }

    [Fact]
    public void A_broken_config_fails_the_build_at_its_line()
    {
        // "num_attention_heads": 16 -> 15, which does not divide hidden_size 2048.
        string broken = UnseenConfig.Replace("\"num_attention_heads\": 16", "\"num_attention_heads\": 15");
        int line = broken.Split('\n').ToList().FindIndex(l => l.Contains("num_attention_heads")) + 1;
        WriteProject(broken);
        var (code, output) = Dotnet("build", "-c", "Debug", "-o", Path.Combine(_dir, "out"));

        Assert.NotEqual(0, code);
        string configPath = Path.Combine(_dir, "qwen2.5-3b", "config.json");
        Assert.Contains($"{configPath}({line},3): error SPEC007: hidden_size (2048) is not divisible by num_attention_heads (15)", output);
    }

    private void WriteProject(string config)
    {
        string repo = RepoPaths.Root;
        Directory.CreateDirectory(Path.Combine(_dir, "qwen2.5-3b"));
        File.WriteAllText(Path.Combine(_dir, "qwen2.5-3b", "config.json"), config);
        File.WriteAllText(Path.Combine(_dir, "Program.cs"), Program);
        File.WriteAllText(Path.Combine(_dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <Import Project="{repo}/src/Generators/build/Specialized.Generators.props" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <SpecializedModel Include="qwen2.5-3b/config.json" TypeName="Qwen2_5_3B" />
                <ProjectReference Include="{repo}/src/Runtime/Specialized.Runtime.csproj" />
                <ProjectReference Include="{repo}/src/Generators/Specialized.Generators.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
              </ItemGroup>
            </Project>
            """);
    }

    private (int ExitCode, string Output) Dotnet(params string[] args) => DotnetCli.Run(_dir, args);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
