using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Specialized.Server.Tests;

/// <summary><c>/v1/completions</c> over HttpClient: every prompt form, streaming, n, logprobs; greedy text equals the engine's.</summary>
[Collection(ServerCollection.Name)]
public sealed class CompletionsTests(ServerFixture server)
{
    private static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, MaxNewTokens = maxTokens };

    private static string FinishName(GenerateOutput o) => o.MetaInfo.FinishReason!.Type == FinishType.Length ? "length" : "stop";

    [Fact]
    public async Task A_greedy_text_prompt_is_the_engines_greedy_output()
    {
        GenerateOutput expected = server.Engine.Generate("The capital of France is", Greedy(20));

        using var response = await Json.PostAsync(server.Http, "/v1/completions",
            new { model = "tiny", prompt = "The capital of France is", max_tokens = 20, temperature = 0 });
        JsonNode body = await Json.ReadAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text_completion", (string?)body["object"]);
        Assert.StartsWith("cmpl-", (string?)body["id"]);
        Assert.Equal("tiny", (string?)body["model"]);
        Assert.True((long)body["created"]! > 1_600_000_000);
        JsonNode choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(expected.Text, (string?)choice["text"]);
        Assert.Equal(FinishName(expected), (string?)choice["finish_reason"]);
        Assert.Equal(expected.MetaInfo.PromptTokens, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(expected.MetaInfo.CompletionTokens, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(expected.MetaInfo.PromptTokens + expected.MetaInfo.CompletionTokens, (int)body["usage"]!["total_tokens"]!);
    }

    [Fact]
    public async Task A_list_of_prompts_and_token_id_prompts_come_back_in_order()
    {
        string[] prompts = ["Once upon a time", "def main():", "1, 2, 3,"];
        IReadOnlyList<GenerateOutput> expected = server.Engine.Generate(prompts, Greedy(8));
        int[][] ids = prompts.Select(p => server.Engine.Tokenizer!.Encode(p)).ToArray();

        using var texts = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = prompts, max_tokens = 8, temperature = 0 });
        using var tokens = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = ids, max_tokens = 8, temperature = 0 });
        using var single = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = ids[1], max_tokens = 8, temperature = 0 });

        foreach (JsonNode body in new[] { await Json.ReadAsync(texts), await Json.ReadAsync(tokens) })
        {
            JsonArray choices = body["choices"]!.AsArray();
            Assert.Equal(expected.Select(o => o.Text), choices.Select(c => (string?)c!["text"]));
            Assert.Equal([0, 1, 2], choices.Select(c => (int)c!["index"]!));
            Assert.Equal(ids.Sum(p => p.Length), (int)body["usage"]!["prompt_tokens"]!);
        }
        Assert.Equal(expected[1].Text, (string?)(await Json.ReadAsync(single))["choices"]![0]!["text"]);
    }

    [Fact]
    public async Task A_stream_adds_up_to_the_non_streamed_text_and_ends_with_usage_and_done()
    {
        GenerateOutput expected = server.Engine.Generate("Streaming is", Greedy(16));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = Json.Body("""{"prompt": "Streaming is", "max_tokens": 16, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}"""),
        };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        List<string> events = await ServerSentEventReader.AllDataAsync(response);

        Assert.Equal("[DONE]", events[^1]);
        List<JsonNode> chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        JsonNode usage = chunks[^1];
        Assert.Empty(usage["choices"]!.AsArray());
        Assert.Equal(expected.MetaInfo.CompletionTokens, (int)usage["usage"]!["completion_tokens"]!);
        var text = new StringBuilder();
        foreach (JsonNode chunk in chunks[..^1])
        {
            Assert.Equal("text_completion", (string?)chunk["object"]);
            Assert.Null(chunk["usage"]);
            text.Append((string?)chunk["choices"]![0]!["text"]);
        }
        Assert.Equal(expected.Text, text.ToString());
        Assert.True(chunks.Count > 3, "the text should arrive in pieces");
        Assert.Equal(FinishName(expected), (string?)chunks[^2]["choices"]![0]!["finish_reason"]);
        Assert.All(chunks[..^2], c => Assert.Null((string?)c["choices"]![0]!["finish_reason"]));
    }

    [Fact]
    public async Task N_seeded_samples_are_the_engines_seeded_samples()
    {
        var parameters = new SamplingParams { Temperature = 0.9f, TopP = 0.9f, MaxNewTokens = 10, N = 3, Seed = 7 };
        IReadOnlyList<GenerateOutput> expected = server.Engine.Generate(["Roll the dice:"], parameters);

        using var response = await Json.PostAsync(server.Http, "/v1/completions",
            new { prompt = "Roll the dice:", max_tokens = 10, temperature = 0.9, top_p = 0.9, n = 3, seed = 7 });
        JsonArray choices = (await Json.ReadAsync(response))["choices"]!.AsArray();

        Assert.Equal(expected.Select(o => o.Text), choices.Select(c => (string?)c!["text"]));
        Assert.True(expected.Select(o => o.Text).Distinct().Count() > 1, "three samples at temperature 0.9 should not all agree");
    }

    [Fact]
    public async Task Logprobs_list_each_tokens_logprob_and_alternatives()
    {
        GenerateOutput expected = server.Engine.Generate("Probabilities", Greedy(5) with { ReturnLogprob = true, TopLogprobsNum = 2 });

        using var response = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = "Probabilities", max_tokens = 5, temperature = 0, logprobs = 2 });
        JsonNode logprobs = (await Json.ReadAsync(response))["choices"]![0]!["logprobs"]!;

        Assert.Equal(expected.OutputTokenLogprobs!.Select(t => t.Logprob), logprobs["token_logprobs"]!.AsArray().Select(v => (float)v!));
        Assert.Equal(expected.OutputIds.Select(id => server.Engine.Tokenizer!.Decode([id])), logprobs["tokens"]!.AsArray().Select(v => (string?)v));
        Assert.All(logprobs["top_logprobs"]!.AsArray(), step => Assert.InRange(step!.AsObject().Count, 1, 2));
        Assert.Equal(0, (int)logprobs["text_offset"]![0]!);
    }
}
