using System.IO.Compression;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Specialized.Tests.Generator;
using Specialized.Tests.Support;

namespace Specialized.Tests.Packaging;

/// <summary>
/// The NuGet packages as a user meets them: `dotnet pack` makes Specialized.Runtime, Specialized.Generators and the
/// tiny model's package into a folder; a fresh console project outside the repository references only the model
/// package and the generator package, specializes a config of its own, writes a random-weight checkpoint and generates
/// greedily. Its tokens must be the in-repository engine's for the same checkpoint and prompt, on the specialized code.
/// One pack, one restore and build, one run: slow (about a minute), so everything is checked in this one test.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly int[] PromptIds = [9707, 11, 1879, 0, 576, 6722, 315];

    private const string Program = """
        using System.Text.Json;
        using Microsoft.Extensions.AI;
        using Specialized;
        using Specialized.Models;
        using Specialized.Weights;

        // args: checkpoint folder to write, the tiny config.json, the folder of Qwen's tokenizer files.
        string checkpoint = args[0];
        RandomCheckpoint.Write(File.ReadAllText(args[1]), checkpoint, seed: 11);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Path.Combine(args[2], file), Path.Combine(checkpoint, file));

        using Engine engine = Engine.Create(checkpoint, new EngineOptions { Device = "cpu" });
        GenerateOutput output = engine.Generate([PROMPT_IDS], new SamplingParams { Temperature = 0, MaxNewTokens = 8, IgnoreEos = true });
        ChatResponse reply = await engine.AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { Temperature = 0, MaxOutputTokens = 6 });

        Console.WriteLine($"model={engine.ModelDescription}");
        Console.WriteLine($"tiny-assembly={typeof(Tiny).Assembly.GetName().Name}");
        Console.WriteLine($"ids={string.Join(',', output.OutputIds)}");
        Console.WriteLine($"text={JsonSerializer.Serialize(output.Text)}");
        Console.WriteLine($"chat={JsonSerializer.Serialize(reply.Text)}");
        Console.WriteLine($"own=hidden {Qwen2_5_3B.HiddenSize} layers {Qwen2_5_3B.NumHiddenLayers}, registered {ModelRegistry.Find(ModelConfig.Load("qwen2.5-3b/config.json"))?.Name}");
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("specialized-packages-").FullName;

    [Fact]
    public async Task A_fresh_project_on_the_packages_generates_what_the_repository_does()
    {
        // A version no cache can hold: a package restored before under the same version would be used instead.
        string version = "0.1.0-test." + Guid.NewGuid().ToString("N")[..12];
        string feed = Path.Combine(_dir, "feed");
        Pack(feed, version);
        AssertAnalyzerPackageHasNoLibrary(Path.Combine(feed, $"Specialized.Generators.{version}.nupkg"));

        string consumer = Path.Combine(_dir, "consumer");
        WriteConsumer(consumer, feed, version);
        var isolatedCache = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(_dir, "nuget-packages") };
        var (buildCode, buildOutput) = DotnetCli.Run(consumer, ["build", "-c", "Debug", "-o", Path.Combine(consumer, "out")], isolatedCache);
        Assert.True(buildCode == 0, buildOutput);

        string checkpoint = Path.Combine(_dir, "checkpoint");
        var (runCode, runOutput) = DotnetCli.Run(consumer,
            [Path.Combine(consumer, "out", "Consumer.dll"), checkpoint, Path.Combine(RepoPaths.Models, "tiny", "config.json"), Path.Combine(RepoPaths.Models, "qwen-tokenizer")]);
        Assert.True(runCode == 0, runOutput);
        Dictionary<string, string> printed = runOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..].TrimEnd('\r'));

        // The package's specialized model ran, not the generic kernels and not a copy from this repository's build.
        Assert.Equal("specialized build Tiny", printed["model"]);
        Assert.Equal("Specialized.Models.Tiny", printed["tiny-assembly"]);
        Assert.Equal("hidden 2048 layers 36, registered Qwen2_5_3B", printed["own"]);

        await using var engine = Specialized.Engine.Create(checkpoint, new EngineOptions { Device = "cpu" });
        GenerateOutput expected = engine.Generate(PromptIds, new SamplingParams { Temperature = 0, MaxNewTokens = 8, IgnoreEos = true });
        ChatResponse expectedReply = await engine.AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { Temperature = 0, MaxOutputTokens = 6 });
        Assert.Equal(string.Join(',', expected.OutputIds), printed["ids"]);
        Assert.Equal(expected.Text, JsonSerializer.Deserialize<string>(printed["text"]));
        Assert.Equal(expectedReply.Text, JsonSerializer.Deserialize<string>(printed["chat"]));
    }

    /// <summary>One `dotnet pack` of the three packages, built under the test's folder so the repository's bin/ and obj/ stay as they are.</summary>
    private void Pack(string feed, string version)
    {
        string filter = Path.Combine(_dir, "packages.slnf");
        File.WriteAllText(filter, JsonSerializer.Serialize(new
        {
            solution = new
            {
                path = Path.Combine(RepoPaths.Root, "Specialized.sln"),
                projects = new[] { "src/Runtime/Specialized.Runtime.csproj", "src/Generators/Specialized.Generators.csproj", "models/tiny/Specialized.Models.Tiny.csproj" },
            },
        }));
        var (code, output) = DotnetCli.Run(_dir, ["pack", filter, "-c", "Release", "--artifacts-path", Path.Combine(_dir, "artifacts"), "-o", feed, $"-p:Version={version}"]);
        Assert.True(code == 0, output);
    }

    /// <summary>The generator ships as an analyzer with its .props: a lib/ folder would make consumers reference the generator.</summary>
    private static void AssertAnalyzerPackageHasNoLibrary(string package)
    {
        using ZipArchive zip = ZipFile.OpenRead(package);
        string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
        Assert.Contains("analyzers/dotnet/cs/Specialized.Generators.dll", entries);
        Assert.Contains("build/Specialized.Generators.props", entries);
        Assert.Contains("buildTransitive/Specialized.Generators.props", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
    }

    private static void WriteConsumer(string folder, string feed, string version)
    {
        // Packages come from the fresh feed, then the default sources; the NUGET_PACKAGES folder is the test's own,
        // and the machine's package folder is read as a fallback so dependencies the repository restored are not downloaded.
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        Directory.CreateDirectory(Path.Combine(folder, "qwen2.5-3b"));
        File.WriteAllText(Path.Combine(folder, "qwen2.5-3b", "config.json"), ConsumerProjectTests.UnseenConfig);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), Program.Replace("PROMPT_IDS", string.Join(", ", PromptIds)));
        File.WriteAllText(Path.Combine(folder, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="specialized-test-feed" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{machinePackages}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        // Nothing of any Directory.Build.props or central package management above the folder applies.
        File.WriteAllText(Path.Combine(folder, "Directory.Build.props"), "<Project />");
        File.WriteAllText(Path.Combine(folder, "Directory.Packages.props"), "<Project />");
        File.WriteAllText(Path.Combine(folder, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <!-- The model package brings Specialized.Runtime; the generator package specializes the config below. -->
                <PackageReference Include="Specialized.Models.Tiny" Version="{version}" />
                <PackageReference Include="Specialized.Generators" Version="{version}" />
                <SpecializedModel Include="qwen2.5-3b/config.json" TypeName="Qwen2_5_3B" />
              </ItemGroup>
            </Project>
            """);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
