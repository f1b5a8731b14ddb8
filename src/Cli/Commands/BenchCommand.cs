using System.CommandLine;
using Specialized.Cli.Bench;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized bench --model DIR [--num-prompts 1000] [--input-len 1024] [--output-len 256] [--seed 1] [--json FILE]</c>:
/// SGLang's offline throughput benchmark on a checkpoint (see <see cref="OfflineThroughputBenchmark"/>).
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliConsole console)
    {
        var engine = new EngineCommandOptions();
        var numPrompts = new Option<int>("--num-prompts") { Description = "Requests in the measured batch.", DefaultValueFactory = _ => 1000 };
        var inputLen = new Option<int>("--input-len") { Description = "Random token ids in each prompt.", DefaultValueFactory = _ => 1024 };
        var outputLen = new Option<int>("--output-len") { Description = "Tokens each request generates (greedy, ignoring EOS).", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random prompts.", DefaultValueFactory = _ => 1 };
        var json = new Option<string>("--json") { Description = "Also write the metrics to this file as JSON." };

        var command = new Command("bench", "Offline throughput on a checkpoint, as SGLang's bench_offline_throughput measures it.")
        {
            numPrompts, inputLen, outputLen, seed, json,
        };
        engine.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new OfflineThroughputSettings(parse.GetValue(numPrompts), parse.GetValue(inputLen), parse.GetValue(outputLen), parse.GetValue(seed));
            settings.Validate(int.MaxValue);
            using LoadedEngine loaded = engine.Load(parse, console, settings.Seed);
            settings.Validate(loaded.Engine.ContextLength);
            console.Error.WriteLine($"model {parse.GetValue(engine.Model)} on {loaded.Engine.Device}: {loaded.Engine.ModelDescription}");
            OfflineThroughputResult result = await OfflineThroughputBenchmark.RunAsync(loaded.Engine, settings, cancellationToken);
            console.Out.WriteLine(result.Report());
            if (parse.GetValue(json) is string file) await File.WriteAllTextAsync(file, result.ToJson(), cancellationToken);
            return 0;
        });
        return command;
    }
}
