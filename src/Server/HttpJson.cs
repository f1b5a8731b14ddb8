using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>Request bodies in, JSON bodies and OpenAI-shaped errors out.</summary>
internal static class HttpJson
{
    /// <summary>Reads the body as <typeparamref name="T"/>; malformed JSON or a field of the wrong type is a 400 naming the field.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> info) where T : class
    {
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync(request.Body, info, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            string? param = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
            throw new InvalidRequestException($"The request body is not valid JSON for this endpoint: {e.Message}", param, "invalid_json");
        }
        return value ?? throw new InvalidRequestException("The request body must be a JSON object.", null, "invalid_json");
    }

    public static Task WriteAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> info)
    {
        response.StatusCode = StatusCodes.Status200OK;
        return response.WriteAsJsonAsync(value, info, contentType: "application/json", response.HttpContext.RequestAborted);
    }

    /// <summary>OpenAI's error body: caller mistakes (4xx) are "invalid_request_error", ours (5xx) "server_error".</summary>
    public static Task WriteErrorAsync(HttpResponse response, int status, string message, string? param, string? code)
    {
        response.StatusCode = status;
        return response.WriteAsJsonAsync(Error(status, message, param, code), ServerJsonContext.Default.ErrorResponse,
            contentType: "application/json", response.HttpContext.RequestAborted);
    }

    public static ErrorResponse Error(int status, string message, string? param, string? code) =>
        new(new ErrorDetail(message, status < 500 ? "invalid_request_error" : "server_error", param, code));
}
