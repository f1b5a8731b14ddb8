using System.Net;

namespace Specialized.Server.Tests;

/// <summary>Bad requests get a 400 in OpenAI's error shape naming the field, nothing is queued, and the server goes on serving.</summary>
[Collection(ServerCollection.Name)]
public sealed class ErrorTests(ServerFixture server)
{
    [Theory]
    [InlineData("{\"prompt\": \"x\", ", null)]
    [InlineData("not json at all", null)]
    [InlineData("", null)]
    [InlineData("{\"prompt\": \"x\", \"max_tokens\": \"many\"}", "max_tokens")]
    [InlineData("{\"prompt\": {\"text\": \"x\"}}", "prompt")]
    [InlineData("{\"prompt\": [\"x\", 1]}", "prompt")]
    [InlineData("{\"prompt\": \"x\", \"stop\": 5}", "stop")]
    public async Task Malformed_json_is_a_400(string body, string? param)
    {
        using var response = await server.Http.PostAsync("/v1/completions", Json.Body(body));
        await Json.AssertErrorAsync(response, 400, param, "invalid_json");
    }

    [Theory]
    [InlineData("temperature", "-1", "temperature")]
    [InlineData("top_p", "0", "top_p")]
    [InlineData("top_p", "1.5", "top_p")]
    [InlineData("max_tokens", "-1", "max_tokens")]
    [InlineData("n", "0", "n")]
    [InlineData("presence_penalty", "2.5", "presence_penalty")]
    [InlineData("frequency_penalty", "-3", "frequency_penalty")]
    [InlineData("top_k", "0", "top_k")]
    [InlineData("min_p", "1.5", "min_p")]
    [InlineData("repetition_penalty", "0", "repetition_penalty")]
    [InlineData("logprobs", "21", "logprobs")]
    [InlineData("logit_bias", "{\"999999999\": 1}", "logit_bias")]
    [InlineData("logit_bias", "{\"hello\": 1}", "logit_bias")]
    [InlineData("stop", "[\"\"]", "stop")]
    public async Task An_out_of_range_completion_parameter_is_a_400_naming_it(string field, string value, string param)
    {
        using var response = await server.Http.PostAsync("/v1/completions", Json.Body($$"""{"prompt": "x", "{{field}}": {{value}}}"""));
        string message = await Json.AssertErrorAsync(response, 400, param);
        Assert.Contains(param, message);
    }

    [Theory]
    [InlineData("{\"model\": \"tiny\"}", "messages", "missing_required_parameter")]
    [InlineData("{\"messages\": []}", "messages", "missing_required_parameter")]
    [InlineData("{\"messages\": [{\"content\": \"hi\"}]}", "messages[0].role", "missing_required_parameter")]
    [InlineData("{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "messages", "invalid_value")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {}}]}]}", "messages[0].content", "invalid_json")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": -5}", "max_completion_tokens", "invalid_value")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_logprobs\": 2}", "top_logprobs", "invalid_value")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"logprobs\": true, \"top_logprobs\": 30}", "top_logprobs", "invalid_value")]
    public async Task A_bad_chat_request_is_a_400_naming_the_field(string body, string param, string code)
    {
        using var response = await server.Http.PostAsync("/v1/chat/completions", Json.Body(body));
        await Json.AssertErrorAsync(response, 400, param, code);
    }

    [Fact]
    public async Task Prompts_the_model_cannot_take_are_a_400()
    {
        int[] tooLong = Enumerable.Repeat(9707, server.Engine.ContextLength).ToArray();
        using var overflow = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = tooLong });
        await Json.AssertErrorAsync(overflow, 400, "prompt", "context_length_exceeded");

        using var outside = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = new[] { 1, server.Engine.Spec.VocabSize } });
        await Json.AssertErrorAsync(outside, 400, "prompt");

        using var empty = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = Array.Empty<string>() });
        await Json.AssertErrorAsync(empty, 400, "prompt");

        using var echo = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = "x", echo = true });
        await Json.AssertErrorAsync(echo, 400, "echo", "unsupported_value");
    }

    [Fact]
    public async Task A_streamed_request_with_a_bad_parameter_is_a_400_before_any_event()
    {
        using var response = await server.Http.PostAsync("/v1/chat/completions",
            Json.Body("""{"messages": [{"role": "user", "content": "hi"}], "stream": true, "temperature": -0.5}"""));
        await Json.AssertErrorAsync(response, 400, "temperature");
    }

    [Fact]
    public async Task After_bad_requests_the_server_still_serves()
    {
        for (int i = 0; i < 5; i++)
        {
            using var bad = await server.Http.PostAsync("/v1/completions", Json.Body("{\"prompt\": \"x\", \"top_p\": 7}"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        using var good = await Json.PostAsync(server.Http, "/v1/completions", new { prompt = "still here", max_tokens = 3, temperature = 0 });
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(server.Engine.Generate("still here", new SamplingParams { Temperature = 0, MaxNewTokens = 3 }).Text,
            (string?)(await Json.ReadAsync(good))["choices"]![0]!["text"]);
    }
}
