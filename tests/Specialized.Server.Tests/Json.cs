using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Specialized.Server.Tests;

/// <summary>Raw JSON requests, so tests see exactly what goes over the wire.</summary>
internal static class Json
{
    public static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    public static Task<HttpResponseMessage> PostAsync(HttpClient http, string path, object body) =>
        http.PostAsync(path, Body(JsonSerializer.Serialize(body)));

    public static async Task<JsonNode> ReadAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonNode>())!;

    /// <summary>Asserts OpenAI's error shape with the given status and field, and returns the message.</summary>
    public static async Task<string> AssertErrorAsync(HttpResponseMessage response, int status, string? param, string? code = null)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonObject error = JsonNode.Parse(body)!["error"]!.AsObject();
        Assert.Equal(status < 500 ? "invalid_request_error" : "server_error", (string?)error["type"]);
        Assert.Equal(param, (string?)error["param"]);
        if (code is not null) Assert.Equal(code, (string?)error["code"]);
        Assert.True(error.ContainsKey("code"));
        string message = (string)error["message"]!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        return message;
    }
}
