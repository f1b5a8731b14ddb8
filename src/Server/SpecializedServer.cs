using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Specialized.Server;

/// <summary>
/// A Kestrel web app serving one <see cref="Engine"/> on <see cref="SpecializedServerOptions.Host"/>:<see cref="SpecializedServerOptions.Port"/>:
/// the endpoints of <see cref="SpecializedEndpoints.MapSpecialized"/> and nothing else. The engine stays the caller's to dispose.
/// </summary>
public static class SpecializedServer
{
    /// <summary>Builds the app; start it with <c>RunAsync</c> (until shutdown) or <c>StartAsync</c>.</summary>
    public static WebApplication Build(Engine engine, SpecializedServerOptions? options = null)
    {
        options ??= new SpecializedServerOptions();
        if (options.Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), $"Port must be in [0, 65535], got {options.Port}.");
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        // ASP.NET Core's per-request lines (routing, status) would bury the server's own at Information.
        builder.Logging.AddFilter("Microsoft.AspNetCore", (LogLevel)Math.Max((int)options.LogLevel, (int)LogLevel.Warning));
        // One streamed request per client over many seconds is the norm here, not a slowloris attack.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MinResponseDataRate = null);
        builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
        WebApplication app = builder.Build();
        app.MapSpecialized(engine, options.ModelName);
        return app;
    }

    /// <summary>The addresses a started app listens on, with the actual port when the options asked for port 0.</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.ToList();
}
