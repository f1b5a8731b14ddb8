using System.CommandLine;
using Microsoft.Extensions.Logging;

namespace Specialized.Cli;

/// <summary>The options of a command that runs the engine, and how they become a loaded <see cref="Engine"/>.</summary>
internal sealed class EngineCommandOptions
{
    public Option<string> Model { get; } = CommonOptions.Model();

    public Option<string> Device { get; } = CommonOptions.Device();

    public Option<int?> ContextLength { get; } = new("--context-length") { Description = "Longest prompt plus output. Default: the config's max_position_embeddings." };

    public Option<int?> MaxRunningRequests { get; } = new("--max-running-requests") { Description = "Requests decoded together at most. Default: 1024 on a GPU, 32 on the CPU." };

    public Option<bool> DisableCudaGraph { get; } = new("--disable-cuda-graph") { Description = "Run decode steps launch by launch instead of replaying CUDA graphs." };

    public Option<bool> Bf16Activations { get; } = new("--bf16-activations")
    {
        Description = "Round the GPU GEMMs' inputs to bf16 as PyTorch's bf16 inference does (faster); by default they stay near float32.",
    };

    public Option<KvCacheDtype> KvCacheDtype { get; } = CommonOptions.KvCacheDtype();

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Device);
        command.Options.Add(ContextLength);
        command.Options.Add(MaxRunningRequests);
        command.Options.Add(DisableCudaGraph);
        command.Options.Add(Bf16Activations);
        command.Options.Add(KvCacheDtype);
    }

    /// <summary>
    /// Loads the engine with a progress display and logging at <c>--log-level</c>; dispose the returned pair (engine
    /// first, so its last log lines are flushed).
    /// </summary>
    public LoadedEngine Load(ParseResult parse, CliConsole console, long? seed = null)
    {
        LogLevel level = parse.GetValue<LogLevel>(CommonOptions.LogLevelName);
        ILoggerFactory loggers = CliLogging.Create(level);
        try
        {
            var options = new EngineOptions
            {
                Device = parse.GetValue(Device)!,
                ContextLength = parse.GetValue(ContextLength),
                MaxRunningRequests = parse.GetValue(MaxRunningRequests),
                DisableCudaGraph = parse.GetValue(DisableCudaGraph),
                Bf16Activations = parse.GetValue(Bf16Activations),
                KvCacheDtype = parse.GetValue(KvCacheDtype),
                RandomSeed = seed,
                LoggerFactory = loggers,
                LogLevel = level,
            };
            string model = parse.GetValue(Model)!;
            if (!Directory.Exists(model)) throw new DirectoryNotFoundException($"--model: the folder {model} does not exist.");
            Engine engine = LoadProgressDisplay.Load(console, loggers.CreateLogger("Specialized.Cli"), progress => Engine.Create(model, options with { Progress = progress }));
            return new LoadedEngine(engine, loggers);
        }
        catch
        {
            loggers.Dispose();
            throw;
        }
    }
}

/// <summary>An engine and the logger factory it writes to, disposed together.</summary>
internal sealed record LoadedEngine(Engine Engine, ILoggerFactory Loggers) : IDisposable
{
    public void Dispose()
    {
        Engine.Dispose();
        Loggers.Dispose();
    }
}
