using Specialized.Cli;
using Specialized.Models;

namespace Specialized.Tests.Cli;

/// <summary>The <c>specialized</c> command tree run in-process, with stdin, stdout and stderr as strings.</summary>
internal static class InProcessCli
{
    public sealed record Result(int Code, string Out, string Error)
    {
        public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public static Result Run(string input, params string[] args)
    {
        BuiltInModels.Register();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SpecializedCommandLine.Run(args, new CliConsole(new StringReader(input), output, error, ErrorIsTerminal: false));
        return new Result(code, output.ToString(), error.ToString());
    }
}
