using Microsoft.Extensions.Logging;

namespace Specialized.Server;

/// <summary>Where <see cref="SpecializedServer"/> listens and what it calls the model: SGLang's launch_server arguments.</summary>
public sealed record SpecializedServerOptions
{
    /// <summary>The address to bind. Loopback by default: exposing the model is a choice to make explicitly.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port; 30000 is SGLang's default, 0 lets the system pick a free one (see <see cref="SpecializedServer.Addresses"/>).</summary>
    public int Port { get; init; } = 30000;

    /// <summary>The model's name in responses and <c>/v1/models</c> (SGLang's served_model_name).</summary>
    public string ModelName { get; init; } = "default";

    /// <summary>The least severe messages ASP.NET Core and the server log to the console.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
}
