using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Specialized.Backends;
using Specialized.Models;
using Specialized.Server;
using Specialized.Text;
using Specialized.Weights;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized serve --model DIR [--host 127.0.0.1] [--port 30000] [--device auto|cuda|cpu]</c>: SGLang's
/// launch_server: the engine behind OpenAI's /v1/completions, /v1/chat/completions and /v1/models, SGLang's
/// /generate, and /health, until Ctrl+C.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "A checkpoint folder (config.json, safetensors, tokenizer.json).", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on; 0.0.0.0 exposes the server to the network.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (SGLang's default).", DefaultValueFactory = _ => 30000 };
        var device = new Option<string>("--device") { Description = "auto, cuda or cpu.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong(BackendSelector.Devices);
        var servedName = new Option<string>("--served-model-name") { Description = "The model's name in responses and /v1/models. Default: the --model path, as SGLang does." };

        var command = new Command("serve", "Serve the model over HTTP: OpenAI-compatible and SGLang-native endpoints.") { model, host, port, device, servedName };
        command.Validators.Add(result =>
        {
            if (result.GetValue(port) is < 0 or > 65535) result.AddError("--port must be in [0, 65535].");
        });
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(model)!, parse.GetValue(host)!, parse.GetValue(port),
            parse.GetValue(device)!, parse.GetValue(servedName), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string modelPath, string host, int port, string device, string? servedName, CancellationToken cancellationToken)
    {
        Engine engine;
        try
        {
            engine = await Engine.CreateAsync(modelPath, new EngineOptions { Device = device }, cancellationToken);
        }
        catch (Exception e) when (e is ModelConfigException or CheckpointException or TokenizerLoadException or IOException
            or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        using (engine)
        {
            Console.Error.WriteLine($"{modelPath} on {engine.Device}: {engine.ModelDescription}");
            WebApplication app = SpecializedServer.Build(engine,
                new SpecializedServerOptions { Host = host, Port = port, ModelName = servedName ?? modelPath, LogLevel = LogLevel.Information });
            await using (app)
            {
                try
                {
                    await app.StartAsync(cancellationToken);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"error: cannot listen on {host}:{port}: {e.Message}");
                    return 1;
                }
                Console.Error.WriteLine($"Serving on {string.Join(", ", SpecializedServer.Addresses(app))} (Ctrl+C stops)");
                await app.WaitForShutdownAsync(cancellationToken);
            }
        }
        return 0;
    }
}
