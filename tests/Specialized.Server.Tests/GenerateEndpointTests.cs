using System.Net;
using System.Text.Json.Nodes;

namespace Specialized.Server.Tests;

/// <summary>SGLang's native <c>/generate</c>, plus <c>/v1/models</c> and <c>/health</c>.</summary>
[Collection(ServerCollection.Name)]
public sealed class GenerateEndpointTests(ServerFixture server)
{
    [Fact]
    public async Task Generate_returns_the_engines_output_with_sglangs_names()
    {
        GenerateOutput expected = server.Engine.Generate("Native API", new SamplingParams { Temperature = 0, MaxNewTokens = 12 });

        using var response = await Json.PostAsync(server.Http, "/generate",
            new { text = "Native API", sampling_params = new { max_new_tokens = 12, temperature = 0 } });
        JsonNode body = await Json.ReadAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected.Text, (string?)body["text"]);
        Assert.Equal(expected.OutputIds, body["output_ids"]!.AsArray().Select(v => (int)v!));
        JsonNode meta = body["meta_info"]!;
        Assert.Equal(expected.MetaInfo.FinishReason!.TypeName, (string?)meta["finish_reason"]!["type"]);
        Assert.Equal(expected.MetaInfo.PromptTokens, (int)meta["prompt_tokens"]!);
        Assert.Equal(expected.MetaInfo.CompletionTokens, (int)meta["completion_tokens"]!);
        Assert.True((double)meta["e2e_latency"]! > 0);
    }

    [Fact]
    public async Task A_batch_of_input_ids_returns_a_list_and_a_stream_ends_with_the_full_text()
    {
        int[][] ids = [[9707, 11, 1879], [785, 6722, 315, 9625, 374]];
        IReadOnlyList<GenerateOutput> expected = server.Engine.Generate(ids, new SamplingParams { Temperature = 0, MaxNewTokens = 6 });

        using var batch = await Json.PostAsync(server.Http, "/generate", new { input_ids = ids, sampling_params = new { max_new_tokens = 6, temperature = 0 } });
        JsonArray outputs = (await Json.ReadAsync(batch)).AsArray();
        Assert.Equal(expected.Select(o => o.Text), outputs.Select(o => (string?)o!["text"]));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/generate")
        {
            Content = Json.Body("""{"input_ids": [785, 6722, 315, 9625, 374], "stream": true, "sampling_params": {"max_new_tokens": 6, "temperature": 0}}"""),
        };
        using var stream = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        List<string> events = await ServerSentEventReader.AllDataAsync(stream);
        Assert.Equal("[DONE]", events[^1]);
        JsonNode last = JsonNode.Parse(events[^2])!;
        // SGLang streams the text so far in every event, not a delta.
        Assert.Equal(expected[1].Text, (string?)last["text"]);
        Assert.Equal(expected[1].OutputIds, last["output_ids"]!.AsArray().Select(v => (int)v!));
        Assert.NotNull(last["meta_info"]!["finish_reason"]);
        Assert.All(events[..^2], e => Assert.Null(JsonNode.Parse(e)!["meta_info"]!["finish_reason"]));
    }

    [Fact]
    public async Task Bad_sampling_params_are_a_400_naming_sglangs_field()
    {
        using var response = await Json.PostAsync(server.Http, "/generate", new { text = "x", sampling_params = new { top_k = 0 } });
        string message = await Json.AssertErrorAsync(response, 400, "top_k", "invalid_value");
        Assert.StartsWith("top_k must be -1", message);

        using var neither = await Json.PostAsync(server.Http, "/generate", new { sampling_params = new { max_new_tokens = 1 } });
        await Json.AssertErrorAsync(neither, 400, "text", "missing_required_parameter");
    }

    [Fact]
    public async Task Models_lists_the_served_model_and_health_is_ok()
    {
        using var models = await server.Http.GetAsync("/v1/models");
        JsonNode body = await Json.ReadAsync(models);
        Assert.Equal("list", (string?)body["object"]);
        JsonNode card = Assert.Single(body["data"]!.AsArray())!;
        Assert.Equal("tiny", (string?)card["id"]);
        Assert.Equal("model", (string?)card["object"]);
        Assert.Equal(server.Engine.ContextLength, (int)card["max_model_len"]!);

        using var health = await server.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
