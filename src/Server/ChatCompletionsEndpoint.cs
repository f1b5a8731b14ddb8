using System.Text;
using Specialized.Sampling;
using Specialized.Server.Protocol;
using Specialized.Text;

namespace Specialized.Server;

/// <summary><c>POST /v1/chat/completions</c>: the conversation through Qwen2.5's chat template, n choices, streamed or not.</summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, ServedModel model)
    {
        ChatCompletionRequest request = await HttpJson.ReadAsync(context.Request, ServerJsonContext.Default.ChatCompletionRequest);
        if (request.Messages is not { Count: > 0 } messages)
        {
            throw new InvalidRequestException("messages is required and must hold at least one message.", "messages", "missing_required_parameter");
        }
        var conversation = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role is not { } role) throw new InvalidRequestException($"messages[{i}].role is required.", $"messages[{i}].role", "missing_required_parameter");
            // An assistant turn that only called tools has null content; it still takes its place in the conversation.
            conversation.Add(new ChatMessage(role, messages[i].Content ?? ""));
        }
        if (request.TopLogprobs is not null && !request.Logprobs)
        {
            throw new InvalidRequestException("top_logprobs needs logprobs set to true.", "top_logprobs");
        }
        if (request.Stream && request.Logprobs)
        {
            throw new InvalidRequestException("logprobs are not available on streamed responses yet; ask without stream.", "logprobs", "unsupported_value");
        }

        string prompt;
        try
        {
            prompt = model.Engine.ApplyChatTemplate(conversation);
        }
        catch (ArgumentException e)
        {
            throw new InvalidRequestException(e.Message.Replace(" (Parameter 'messages')", "", StringComparison.Ordinal), "messages");
        }
        int[] ids = model.Encode(prompt, "messages");
        (int maxTokens, string maxTokensField) = request.MaxCompletionTokens is { } mct ? (mct, "max_completion_tokens")
            : request.MaxTokens is { } mt ? (mt, "max_tokens")
            // OpenAI's default: as long as the context allows (the engine clamps to what the prompt leaves).
            : (model.Engine.ContextLength, "max_tokens");
        SamplingParams parameters = SamplingParamsMapping.FromOpenAi(request, model.VocabSize, maxTokens, maxTokensField,
            request.Logprobs, request.TopLogprobs ?? 0, "top_logprobs");
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        List<int[]> prompts = [ids];

        if (request.Stream)
        {
            await StreamAsync(context, model, prompts, parameters, id, created, request.StreamOptions?.IncludeUsage == true);
            return;
        }

        IReadOnlyList<GenerateOutput> outputs = await model.Engine.GenerateAsync(prompts, parameters, context.RequestAborted);
        FinishReasons.ThrowIfAborted(outputs);
        var response = new ChatCompletionResponse
        {
            Id = id,
            Created = created,
            Model = model.Name,
            Choices = outputs.Select((o, i) => new ChatChoice
            {
                Index = i,
                Message = new AssistantMessage { Content = o.Text ?? "" },
                Logprobs = parameters.ReturnLogprob ? Logprobs(model, o) : null,
                FinishReason = FinishReasons.OpenAiName(o.MetaInfo.FinishReason!),
            }).ToList(),
            Usage = new Usage(ids.Length, outputs.Sum(o => o.MetaInfo.CompletionTokens)),
        };
        await HttpJson.WriteAsync(context.Response, response, ServerJsonContext.Default.ChatCompletionResponse);
    }

    private static async Task StreamAsync(HttpContext context, ServedModel model, List<int[]> prompts, SamplingParams parameters,
        string id, long created, bool includeUsage)
    {
        CancellationToken cancel = context.RequestAborted;
        await using var chunks = model.Engine.GenerateStreamAsync(prompts, parameters, cancel).GetAsyncEnumerator(cancel);
        // The first step queues the request: one the engine refuses still gets a proper 400 here, before any byte is sent.
        bool more = await chunks.MoveNextAsync();
        ServerSentEvents.Start(context.Response);
        for (int choice = 0; choice < parameters.N; choice++)
        {
            await WriteAsync(context, Chunk(model, id, created, choice, new ChatDelta { Role = "assistant", Content = "" }, null), cancel);
        }

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
            if (chunk.TextDelta.Length > 0)
            {
                await WriteAsync(context, Chunk(model, id, created, chunk.Index, new ChatDelta { Content = chunk.TextDelta }, null), cancel);
            }
            if (finish is not null)
            {
                completionTokens += chunk.MetaInfo.CompletionTokens;
                await WriteAsync(context, Chunk(model, id, created, chunk.Index, new ChatDelta(), FinishReasons.OpenAiName(finish)), cancel);
            }
        }
        if (includeUsage)
        {
            var usage = new ChatCompletionChunk { Id = id, Created = created, Model = model.Name, Choices = [], Usage = new Usage(prompts[0].Length, completionTokens) };
            await WriteAsync(context, usage, cancel);
        }
        await ServerSentEvents.WriteDoneAsync(context.Response, cancel);
    }

    private static ChatCompletionChunk Chunk(ServedModel model, string id, long created, int index, ChatDelta delta, string? finishReason) => new()
    {
        Id = id,
        Created = created,
        Model = model.Name,
        Choices = [new ChatChunkChoice { Index = index, Delta = delta, FinishReason = finishReason }],
    };

    private static Task WriteAsync(HttpContext context, ChatCompletionChunk chunk, CancellationToken cancel) =>
        ServerSentEvents.WriteAsync(context.Response, chunk, ServerJsonContext.Default.ChatCompletionChunk, cancel);

    private static ChatLogprobs Logprobs(ServedModel model, GenerateOutput output)
    {
        IReadOnlyList<TokenLogprob> tokens = output.OutputTokenLogprobs ?? [];
        return new ChatLogprobs
        {
            Content = tokens.Select((t, i) => new ChatTokenLogprob
            {
                Token = model.TokenText(t.TokenId),
                Logprob = t.Logprob,
                Bytes = Utf8(model.TokenText(t.TokenId)),
                TopLogprobs = output.OutputTopLogprobs is { } top
                    ? top[i].Select(a => new ChatTopLogprob { Token = model.TokenText(a.TokenId), Logprob = a.Logprob, Bytes = Utf8(model.TokenText(a.TokenId)) }).ToList()
                    : [],
            }).ToList(),
        };
    }

    private static int[] Utf8(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
}
