using System.CommandLine;
using System.CommandLine.Invocation;
using Specialized.Cli.Commands;
using Specialized.Models;
using Specialized.Text;
using Specialized.Weights;

namespace Specialized.Cli;

/// <summary>
/// The <c>specialized</c> command tree and how it runs: a user's mistake (a missing folder, a bad config, an invalid
/// sampling parameter, a bad token id) is one line on stderr and exit code 1, never a stack trace.
/// </summary>
internal static class SpecializedCommandLine
{
    public static RootCommand Create(CliConsole console) => new("specialized: Qwen2 inference, specialized at build time.")
    {
        CommonOptions.LogLevel,
        ModelsCommand.Create(console),
        InspectCommand.Create(console),
        TokenizeCommand.Create(console),
        MakeRandomCheckpointCommand.Create(console),
        GenerateCommand.Create(console),
        ChatCommand.Create(console),
        BenchCommand.Create(console),
        LogitsCommand.Create(console),
        ServeCommand.Create(console),
    };

    public static int Run(string[] args, CliConsole console)
    {
        ParseResult parse = Create(console).Parse(args);
        // A parse error names what is wrong; the full help on top of it would bury that line.
        if (parse.Action is ParseErrorAction errors) errors.ShowHelp = false;
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserMistake(e))
        {
            console.Error.WriteLine($"error: {OneLine(e.Message)}");
            return 1;
        }
    }

    /// <summary>Exceptions whose message tells the user what to change; anything else is a bug and keeps its stack trace.</summary>
    private static bool IsUserMistake(Exception e) => e is ModelConfigException or CheckpointException or TokenizerLoadException
        or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NotSupportedException;

    private static string OneLine(string message) => string.Join(" ", message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
