namespace Specialized.Cli;

/// <summary>
/// Where a command reads and writes: the process's console, or strings in tests. Commands write results to
/// <see cref="Out"/> and everything else (progress, warnings, errors) to <see cref="Error"/>, so piped output stays clean.
/// </summary>
internal sealed record CliConsole(TextReader In, TextWriter Out, TextWriter Error, bool ErrorIsTerminal)
{
    public static CliConsole FromProcess() => new(Console.In, Console.Out, Console.Error, !Console.IsErrorRedirected);
}
