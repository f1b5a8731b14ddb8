using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Specialized.Cli;

/// <summary>Console logging for <c>--log-level</c>: one line a message, all of it on stderr so stdout carries only results.</summary>
internal static class CliLogging
{
    public static ILoggerFactory Create(LogLevel level) => LoggerFactory.Create(builder => builder
        .SetMinimumLevel(level)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        }));
}
