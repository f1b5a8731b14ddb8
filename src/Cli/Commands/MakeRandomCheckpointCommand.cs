using System.CommandLine;
using System.Diagnostics;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized make-random-checkpoint --config models/X/config.json --out DIR [--seed N] [--tokenizer DIR]</c>:
/// a real-shape checkpoint with random bf16 weights, for running and benchmarking without downloads.
/// </summary>
internal static class MakeRandomCheckpointCommand
{
    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json"];

    public static Command Create(CliConsole console)
    {
        var config = new Option<string>("--config", "-c") { Description = "The model's config.json.", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder to write the checkpoint into.", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights; the same seed gives the same checkpoint.", DefaultValueFactory = _ => 0 };
        var tokenizer = new Option<string>("--tokenizer") { Description = "A folder whose tokenizer.json and tokenizer_config.json are copied along." };
        var command = new Command("make-random-checkpoint", "Write a random-weight bf16 checkpoint of a Qwen2 config.") { config, output, seed, tokenizer };
        command.SetAction(parse => Run(console, parse.GetValue(config)!, parse.GetValue(output)!, parse.GetValue(seed), parse.GetValue(tokenizer)));
        return command;
    }

    private static int Run(CliConsole console, string configPath, string folder, int seed, string? tokenizerFolder)
    {
        string json = File.ReadAllText(configPath);
        ModelSpec spec = ModelConfig.Parse(json, configPath);
        if (tokenizerFolder is not null)
        {
            string? missing = TokenizerFiles.Select(f => Path.Combine(tokenizerFolder, f)).FirstOrDefault(f => !File.Exists(f));
            if (missing is not null) throw new FileNotFoundException($"--tokenizer: {missing} does not exist.");
        }
        var clock = Stopwatch.StartNew();
        console.Error.WriteLine($"writing {spec.ParameterCount:N0} random bf16 parameters ({spec.ParameterCount * 2 / 1e9:F2} GB) to {folder}");
        RandomCheckpoint.Write(json, folder, seed);
        if (tokenizerFolder is not null)
        {
            foreach (string f in TokenizerFiles) File.Copy(Path.Combine(tokenizerFolder, f), Path.Combine(folder, f), overwrite: true);
        }
        console.Error.WriteLine($"done in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
