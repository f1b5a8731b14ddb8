using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Specialized.Server;

/// <summary>
/// The streaming wire format OpenAI and SGLang share: <c>data: {json}\n\n</c> per event, flushed at once so a
/// token reaches the client when it is made, and <c>data: [DONE]\n\n</c> at the end.
/// </summary>
internal static class ServerSentEvents
{
    public static void Start(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // Proxies such as nginx buffer responses unless told not to, which would hold tokens back.
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public static async Task WriteAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> info, CancellationToken cancellationToken)
    {
        var body = response.BodyWriter;
        body.Write("data: "u8);
        using (var json = new Utf8JsonWriter(body)) JsonSerializer.Serialize(json, value, info);
        body.Write("\n\n"u8);
        await body.FlushAsync(cancellationToken);
    }

    public static async Task WriteDoneAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.BodyWriter.Write("data: [DONE]\n\n"u8);
        await response.BodyWriter.FlushAsync(cancellationToken);
    }
}
