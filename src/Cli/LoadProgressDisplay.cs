using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Specialized.Cli;

/// <summary>
/// Shows <see cref="Engine.Create"/>'s progress while it loads: a live Spectre.Console display on stderr when stderr is
/// a terminal (weights in megabytes, then kernel compilation and the KV cache); otherwise each stage as an
/// Information log line, so redirected output stays plain.
/// </summary>
internal static class LoadProgressDisplay
{
    public static Engine Load(CliConsole console, ILogger logger, Func<IProgress<EngineLoadProgress>, Engine> create)
    {
        if (!console.ErrorIsTerminal) return create(new LoggedStages(logger));
        IAnsiConsole terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(console.Error) });
        return terminal.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context => create(new LiveStages(context)));
    }

    private static string Describe(EngineLoadProgress p) => p.Stage switch
    {
        EngineLoadStage.ReadingConfig => "reading config and tokenizer",
        EngineLoadStage.StartingDevice => "starting the device",
        EngineLoadStage.LoadingWeights => $"loading weights {p.BytesDone / 1e6:F0}/{p.BytesTotal / 1e6:F0} MB",
        EngineLoadStage.CompilingKernels => "compiling kernels",
        EngineLoadStage.AllocatingKvCache => "allocating the KV cache",
        _ => "ready",
    };

    /// <summary>One task a stage; the weights' task fills with bytes, the others run until the next stage starts.</summary>
    private sealed class LiveStages(ProgressContext context) : IProgress<EngineLoadProgress>
    {
        private ProgressTask? _current;
        private EngineLoadStage? _stage;

        public void Report(EngineLoadProgress value)
        {
            if (value.Stage != _stage)
            {
                Finish();
                _stage = value.Stage;
                if (value.Stage == EngineLoadStage.Ready) return;
                _current = context.AddTask(Describe(value), maxValue: Math.Max(1, value.BytesTotal));
                _current.IsIndeterminate = value.Stage != EngineLoadStage.LoadingWeights;
            }
            if (_current is null) return;
            _current.Description = Markup.Escape(Describe(value));
            _current.Value = value.BytesDone;
        }

        private void Finish()
        {
            if (_current is null) return;
            _current.IsIndeterminate = false;
            _current.Value = _current.MaxValue;
            _current.StopTask();
            _current = null;
        }
    }

    /// <summary>Each stage as one log line, with the seconds since loading began, so a slow start shows where it went.</summary>
    private sealed class LoggedStages(ILogger logger) : IProgress<EngineLoadProgress>
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private EngineLoadStage? _stage;

        public void Report(EngineLoadProgress value)
        {
            if (value.Stage == _stage) return;
            _stage = value.Stage;
            string stage = value.Stage == EngineLoadStage.LoadingWeights ? $"loading weights ({value.BytesTotal / 1e6:F0} MB)" : Describe(value);
            logger.LogInformation("{Seconds:F2} s: {Stage}", _clock.Elapsed.TotalSeconds, stage);
        }
    }
}
