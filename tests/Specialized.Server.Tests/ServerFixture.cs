using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Specialized.Tests.Engine;

namespace Specialized.Server.Tests;

/// <summary>
/// The real server on 127.0.0.1 and a free port, over an engine running the tiny random-weight checkpoint on the CPU
/// backend. Tests talk to it over TCP like any client, and compare with the same engine called directly.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ModelName = "tiny";

    private readonly TinyTextModel _checkpoint = new();
    private WebApplication? _app;

    public Engine Engine { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The checkpoint, for tests that need an engine of their own.</summary>
    public string CheckpointFolder => _checkpoint.Folder;

    public async Task InitializeAsync()
    {
        Engine = await Engine.CreateAsync(_checkpoint.Folder, new EngineOptions { Device = "cpu", RandomSeed = 1 });
        (_app, BaseAddress) = await StartAsync(Engine);
        Http = new HttpClient { BaseAddress = BaseAddress };
    }

    /// <summary>Starts a server over <paramref name="engine"/> on a port the system picks.</summary>
    public static async Task<(WebApplication App, Uri BaseAddress)> StartAsync(Engine engine)
    {
        WebApplication app = SpecializedServer.Build(engine, new SpecializedServerOptions { Port = 0, ModelName = ModelName, LogLevel = LogLevel.Warning });
        await app.StartAsync();
        return (app, new Uri(SpecializedServer.Addresses(app).Single()));
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null) await _app.DisposeAsync();
        Engine.Dispose();
        _checkpoint.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
