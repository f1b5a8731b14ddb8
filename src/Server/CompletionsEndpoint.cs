using Specialized.Sampling;
using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary><c>POST /v1/completions</c>: OpenAI's legacy completions, one choice per prompt and sample, streamed or not.</summary>
internal static class CompletionsEndpoint
{
    /// <summary>OpenAI's (and SGLang's) max_tokens when the request gives none.</summary>
    private const int DefaultMaxTokens = 16;

    public static async Task HandleAsync(HttpContext context, ServedModel model)
    {
        CompletionRequest request = await HttpJson.ReadAsync(context.Request, ServerJsonContext.Default.CompletionRequest);
        if (request.Prompt is null) throw new InvalidRequestException("prompt is required.", "prompt", "missing_required_parameter");
        if (request.Echo) throw Unsupported("echo");
        if (!string.IsNullOrEmpty(request.Suffix)) throw Unsupported("suffix");
        if (request.BestOf is > 1) throw Unsupported("best_of");
        if (request.Stream && request.Logprobs is not null)
        {
            throw new InvalidRequestException("logprobs are not available on streamed responses yet; ask without stream.", "logprobs", "unsupported_value");
        }

        List<int[]> prompts = model.Prompts(request.Prompt, "prompt");
        SamplingParams parameters = SamplingParamsMapping.FromOpenAi(request, model.VocabSize, request.MaxTokens ?? DefaultMaxTokens, "max_tokens",
            returnLogprob: request.Logprobs is not null, request.Logprobs ?? 0, "logprobs");
        string id = "cmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        int promptTokens = prompts.Sum(p => p.Length);

        if (request.Stream)
        {
            await StreamAsync(context, model, prompts, parameters, id, created, promptTokens, request.StreamOptions?.IncludeUsage == true);
            return;
        }

        IReadOnlyList<GenerateOutput> outputs = await model.Engine.GenerateAsync(prompts, parameters, context.RequestAborted);
        FinishReasons.ThrowIfAborted(outputs);
        var response = new CompletionResponse
        {
            Id = id,
            Created = created,
            Model = model.Name,
            Choices = outputs.Select((o, i) => new CompletionChoice
            {
                Index = i,
                Text = o.Text ?? "",
                Logprobs = parameters.ReturnLogprob ? Logprobs(model, o) : null,
                FinishReason = FinishReasons.OpenAiName(o.MetaInfo.FinishReason!),
            }).ToList(),
            Usage = new Usage(promptTokens, outputs.Sum(o => o.MetaInfo.CompletionTokens)),
        };
        await HttpJson.WriteAsync(context.Response, response, ServerJsonContext.Default.CompletionResponse);
    }

    private static async Task StreamAsync(HttpContext context, ServedModel model, List<int[]> prompts, SamplingParams parameters,
        string id, long created, int promptTokens, bool includeUsage)
    {
        CancellationToken cancel = context.RequestAborted;
        await using var chunks = model.Engine.GenerateStreamAsync(prompts, parameters, cancel).GetAsyncEnumerator(cancel);
        // The first step queues the requests: one the engine refuses still gets a proper 400 here, before any byte is sent.
        bool more = await chunks.MoveNextAsync();
        ServerSentEvents.Start(context.Response);
        int completionTokens = 0;
        for (; more; more = await chunks.MoveNextAsync())
        {
            StreamChunk chunk = chunks.Current;
            FinishReason? finish = chunk.MetaInfo.FinishReason;
            if (finish?.Type == FinishType.Abort)
            {
                await ServerSentEvents.WriteAsync(context.Response, FinishReasons.AbortEvent(finish), ServerJsonContext.Default.ErrorResponse, cancel);
                continue;
            }
            if (finish is not null) completionTokens += chunk.MetaInfo.CompletionTokens;
            if (chunk.TextDelta.Length == 0 && finish is null) continue;
            var response = new CompletionResponse
            {
                Id = id,
                Created = created,
                Model = model.Name,
                Choices = [new CompletionChoice { Index = chunk.Index, Text = chunk.TextDelta, FinishReason = finish is null ? null : FinishReasons.OpenAiName(finish) }],
            };
            await ServerSentEvents.WriteAsync(context.Response, response, ServerJsonContext.Default.CompletionResponse, cancel);
        }
        if (includeUsage)
        {
            var usage = new CompletionResponse { Id = id, Created = created, Model = model.Name, Choices = [], Usage = new Usage(promptTokens, completionTokens) };
            await ServerSentEvents.WriteAsync(context.Response, usage, ServerJsonContext.Default.CompletionResponse, cancel);
        }
        await ServerSentEvents.WriteDoneAsync(context.Response, cancel);
    }

    /// <summary>The legacy layout: each token's text, its logprob, its alternatives by text, and where it starts in the output.</summary>
    private static CompletionLogprobs Logprobs(ServedModel model, GenerateOutput output)
    {
        var tokens = new List<string>();
        var offsets = new List<int>();
        int offset = 0;
        foreach (TokenLogprob t in output.OutputTokenLogprobs ?? [])
        {
            string text = model.TokenText(t.TokenId);
            tokens.Add(text);
            offsets.Add(offset);
            offset += text.Length;
        }
        return new CompletionLogprobs
        {
            Tokens = tokens,
            TokenLogprobs = output.OutputTokenLogprobs?.Select(t => t.Logprob).ToList() ?? [],
            TopLogprobs = output.OutputTopLogprobs?.Select(step =>
            {
                // Two ids can decode to the same text (e.g. halves of one character); the likelier one keeps the key.
                var top = new Dictionary<string, float>();
                foreach (TokenLogprob t in step) top.TryAdd(model.TokenText(t.TokenId), t.Logprob);
                return top;
            }).ToList(),
            TextOffset = offsets,
        };
    }

    private static InvalidRequestException Unsupported(string field) =>
        new($"{field} is not supported by this server.", field, "unsupported_value");
}
