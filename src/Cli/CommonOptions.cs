using System.CommandLine;
using Microsoft.Extensions.Logging;
using Specialized.Backends;

namespace Specialized.Cli;

/// <summary>Options several commands share, made fresh for each command tree (an option belongs to the commands it is added to).</summary>
internal static class CommonOptions
{
    public const string LogLevelName = "--log-level";

    /// <summary>On the root and every command below it.</summary>
    public static Option<LogLevel> LogLevel => new(LogLevelName)
    {
        Description = "Least severe log messages written to stderr: Trace, Debug, Information, Warning, Error, Critical or None.",
        DefaultValueFactory = _ => Microsoft.Extensions.Logging.LogLevel.Warning,
        Recursive = true,
    };

    public static Option<string> Model(string description = "A checkpoint folder: config.json, safetensors and (for text) tokenizer.json.") =>
        new("--model", "-m") { Description = description, Required = true };

    public static Option<string> Device()
    {
        var device = new Option<string>("--device") { Description = "auto (CUDA when a GPU is found), cuda or cpu.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong(BackendSelector.Devices);
        return device;
    }

    /// <summary>What the KV cache stores (<see cref="EngineOptions.KvCacheDtype"/>): a name <see cref="KvCacheDtypes.Parse"/> knows.</summary>
    public static Option<KvCacheDtype> KvCacheDtype() => new("--kv-cache-dtype")
    {
        Description = "What the KV cache stores: float32 (default) or bf16 (half the memory and attention traffic).",
        DefaultValueFactory = _ => Specialized.KvCacheDtype.Float32,
        CustomParser = result =>
        {
            try
            {
                return KvCacheDtypes.Parse(result.Tokens.Single().Value);
            }
            catch (ArgumentException e)
            {
                result.AddError($"--kv-cache-dtype: {e.Message}");
                return default;
            }
        },
    };
}
