using System.ClientModel;
using System.Net;
using System.Text;
using OpenAI;
using OpenAI.Chat;
using EngineMessage = Specialized.Text.ChatMessage;

namespace Specialized.Server.Tests;

/// <summary>Many streaming clients at once, and clients that leave mid-stream.</summary>
[Collection(ServerCollection.Name)]
public sealed class StreamingClientsTests(ServerFixture server)
{
    [Fact]
    public async Task Sixty_four_concurrent_streaming_clients_all_complete_with_their_own_greedy_text()
    {
        const int Clients = 64;
        string[] questions = Enumerable.Range(0, Clients).Select(i => $"Question {i}: what comes after {i * 7}?").ToArray();
        var greedy = new SamplingParams { Temperature = 0, MaxNewTokens = 4 };
        string?[] expected = (await Task.WhenAll(questions.Select(q => server.Engine.GenerateAsync([EngineMessage.User(q)], greedy))))
            .Select(o => o.Text).ToArray();
        var client = new ChatClient(ServerFixture.ModelName, new ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });

        string[] streamed = await Task.WhenAll(questions.Select(async q =>
        {
            var text = new StringBuilder();
            int finishes = 0;
            await foreach (StreamingChatCompletionUpdate update in client.CompleteChatStreamingAsync([new UserChatMessage(q)],
                new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 4 }))
            {
                foreach (ChatMessageContentPart part in update.ContentUpdate) text.Append(part.Text);
                if (update.FinishReason is not null) finishes++;
            }
            Assert.Equal(1, finishes);
            return text.ToString();
        }));

        Assert.Equal(expected, streamed);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_cancels_its_request_and_frees_its_kv()
    {
        // An engine of its own, so its KV pages are this test's alone; one-token pages make the cache count tokens.
        using var engine = await Engine.CreateAsync(server.CheckpointFolder, new EngineOptions { Device = "cpu", PageSize = 1 });
        var (app, address) = await ServerFixture.StartAsync(engine);
        await using var _ = app;
        int[] prompt = engine.Tokenizer!.Encode("Tell me a very long story.");
        int maxTokens = engine.ContextLength - prompt.Length;

        using (var http = new HttpClient { BaseAddress = address })
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Json.Body($$"""{"prompt": [{{string.Join(",", prompt)}}], "max_tokens": {{maxTokens}}, "temperature": 0, "ignore_eos": true, "stream": true}"""),
        })
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            int events = 0;
            await foreach (string data in ServerSentEventReader.DataAsync(response))
            {
                if (++events == 3) break;
            }
            EngineMetrics running = engine.GetMetrics();
            Assert.True(running.UsedKvPages > running.CachedKvPages, "the streaming request should hold KV pages of its own");
        } // Leaving the using closes the connection mid-stream.

        // Once the request ends, every page in use is the prefix cache's (unlocked, evictable), none a request's.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (engine.GetMetrics() is var usage && usage.UsedKvPages != usage.CachedKvPages)
        {
            Assert.True(DateTime.UtcNow < deadline, "the request kept its KV pages after its client left");
            await Task.Delay(10);
        }
        // A request left to finish would have cached its prompt and all but its last output token; a cancelled one less.
        int cached = engine.GetMetrics().CachedKvPages;
        Assert.True(cached < prompt.Length + maxTokens - 1, $"the request ran to the end ({cached} tokens cached) instead of being cancelled");

        using var after = new HttpClient { BaseAddress = address };
        using var next = await Json.PostAsync(after, "/v1/completions", new { prompt = "next", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }
}
