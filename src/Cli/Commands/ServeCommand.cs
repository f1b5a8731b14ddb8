using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Specialized.Server;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized serve --model DIR [--host 127.0.0.1] [--port 30000] [--device auto|cuda|cpu]</c>: SGLang's
/// launch_server: the engine behind OpenAI's /v1/completions, /v1/chat/completions and /v1/models, SGLang's
/// /generate, and /health, until Ctrl+C.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliConsole console)
    {
        var engine = new EngineCommandOptions();
        var host = new Option<string>("--host") { Description = "Address to listen on; 0.0.0.0 exposes the server to the network.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (SGLang's default).", DefaultValueFactory = _ => 30000 };
        var servedName = new Option<string>("--served-model-name") { Description = "The model's name in responses and /v1/models. Default: the --model path, as SGLang does." };

        var command = new Command("serve", "Serve the model over HTTP: OpenAI-compatible and SGLang-native endpoints.") { host, port, servedName };
        engine.AddTo(command);
        command.Validators.Add(result =>
        {
            if (result.GetValue(port) is < 0 or > 65535) result.AddError("--port must be in [0, 65535].");
        });
        command.SetAction((parse, cancellationToken) => RunAsync(console, engine, parse, parse.GetValue(host)!, parse.GetValue(port),
            parse.GetValue(servedName) ?? parse.GetValue(engine.Model)!, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, EngineCommandOptions engineOptions, ParseResult parse, string host, int port,
        string servedName, CancellationToken cancellationToken)
    {
        using LoadedEngine loaded = engineOptions.Load(parse, console);
        console.Error.WriteLine($"{servedName} on {loaded.Engine.Device}: {loaded.Engine.ModelDescription}");
        WebApplication app = SpecializedServer.Build(loaded.Engine,
            new SpecializedServerOptions { Host = host, Port = port, ModelName = servedName, LogLevel = LogLevel.Information });
        await using (app)
        {
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException e)
            {
                throw new IOException($"cannot listen on {host}:{port}: {e.Message}", e);
            }
            console.Error.WriteLine($"Serving on {string.Join(", ", SpecializedServer.Addresses(app))} (Ctrl+C stops)");
            await app.WaitForShutdownAsync(cancellationToken);
        }
        return 0;
    }
}
