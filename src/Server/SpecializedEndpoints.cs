using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>The server's endpoints, to map onto any ASP.NET Core app that owns an <see cref="Specialized.Engine"/>.</summary>
public static class SpecializedEndpoints
{
    /// <summary>
    /// Maps OpenAI's <c>/v1/completions</c>, <c>/v1/chat/completions</c> (SSE when <c>stream</c> is true) and
    /// <c>/v1/models</c>, SGLang's native <c>/generate</c>, and <c>/health</c>, all served by <paramref name="engine"/>.
    /// A client that disconnects cancels its request, which frees its KV cache at once.
    /// </summary>
    /// <param name="modelName">The model's name in responses and in <c>/v1/models</c> (SGLang's served_model_name).</param>
    public static IEndpointRouteBuilder MapSpecialized(this IEndpointRouteBuilder endpoints, Specialized.Engine engine, string modelName)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        var model = new ServedModel(engine, modelName);
        ILogger logger = endpoints.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger("Specialized.Server")
            ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

        endpoints.MapPost("/v1/completions", (HttpContext c) => EndpointGuard.RunAsync(c, logger, () => CompletionsEndpoint.HandleAsync(c, model)));
        endpoints.MapPost("/v1/chat/completions", (HttpContext c) => EndpointGuard.RunAsync(c, logger, () => ChatCompletionsEndpoint.HandleAsync(c, model)));
        endpoints.MapPost("/generate", (HttpContext c) => EndpointGuard.RunAsync(c, logger, () => GenerateEndpoint.HandleAsync(c, model)));
        endpoints.MapGet("/v1/models", (HttpContext c) => HttpJson.WriteAsync(c.Response,
            new ModelList([new ModelCard(model.Name, model.Created, engine.ContextLength)]), ServerJsonContext.Default.ModelList));
        endpoints.MapGet("/health", () => Results.Ok());
        return endpoints;
    }
}
