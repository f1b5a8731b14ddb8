namespace Specialized.Server.Tests;

/// <summary>Reads a server-sent-event stream as its <c>data:</c> payloads, in order, as plain text off the socket.</summary>
internal static class ServerSentEventReader
{
    public static async IAsyncEnumerable<string> DataAsync(HttpResponseMessage response)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            yield return line["data: ".Length..];
        }
    }

    public static async Task<List<string>> AllDataAsync(HttpResponseMessage response)
    {
        var events = new List<string>();
        await foreach (string data in DataAsync(response)) events.Add(data);
        return events;
    }
}
