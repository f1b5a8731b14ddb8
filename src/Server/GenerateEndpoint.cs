using System.Text;
using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>
/// SGLang's native <c>POST /generate</c>: <c>text</c> or <c>input_ids</c> (one prompt or a batch) with SGLang's
/// <c>sampling_params</c>, answered with <c>{text, output_ids, meta_info}</c> per prompt and sample, as the offline
/// engine's <see cref="GenerateOutput"/>. Aborted requests come back as they are, with SGLang's abort finish reason.
/// </summary>
internal static class GenerateEndpoint
{
    public static async Task HandleAsync(HttpContext context, ServedModel model)
    {
        GenerateRequest request = await HttpJson.ReadAsync(context.Request, ServerJsonContext.Default.GenerateRequest);
        if ((request.Text is null) == (request.InputIds is null))
        {
            throw new InvalidRequestException("Give exactly one of text or input_ids.", request.Text is null ? "text" : "input_ids", "missing_required_parameter");
        }
        if (request.Stream && request.ReturnLogprob)
        {
            throw new InvalidRequestException("return_logprob is not available on streamed responses yet; ask without stream.", "return_logprob", "unsupported_value");
        }
        PromptInput input = request.Text ?? request.InputIds!;
        List<int[]> prompts = model.Prompts(input, request.Text is null ? "input_ids" : "text");
        SamplingParams parameters = SamplingParamsMapping.FromSglang(request.SamplingParams, model.VocabSize, request.ReturnLogprob, request.TopLogprobsNum ?? 0);
        bool single = input.IsSingle && parameters.N == 1;

        if (request.Stream)
        {
            await StreamAsync(context, model, prompts, parameters, single);
            return;
        }

        IReadOnlyList<GenerateOutput> outputs = await model.Engine.GenerateAsync(prompts, parameters, context.RequestAborted);
        List<GenerateResponse> responses = outputs.Select(o => new GenerateResponse
        {
            Text = o.Text ?? "",
            OutputIds = o.OutputIds,
            MetaInfo = GenerateMetaInfo.From(o.MetaInfo, o),
        }).ToList();
        if (single) await HttpJson.WriteAsync(context.Response, responses[0], ServerJsonContext.Default.GenerateResponse);
        else await HttpJson.WriteAsync(context.Response, responses, ServerJsonContext.Default.ListGenerateResponse);
    }

    /// <summary>As SGLang streams by default: each event carries the text and ids so far, not the delta.</summary>
    private static async Task StreamAsync(HttpContext context, ServedModel model, List<int[]> prompts, SamplingParams parameters, bool single)
    {
        CancellationToken cancel = context.RequestAborted;
        await using var chunks = model.Engine.GenerateStreamAsync(prompts, parameters, cancel).GetAsyncEnumerator(cancel);
        bool more = await chunks.MoveNextAsync();
        ServerSentEvents.Start(context.Response);
        var texts = new Dictionary<int, StringBuilder>();
        var ids = new Dictionary<int, List<int>>();
        for (; more; more = await chunks.MoveNextAsync())
        {
            StreamChunk chunk = chunks.Current;
            StringBuilder text = texts.TryGetValue(chunk.Index, out var t) ? t : texts[chunk.Index] = new StringBuilder();
            List<int> outputIds = ids.TryGetValue(chunk.Index, out var i) ? i : ids[chunk.Index] = [];
            text.Append(chunk.TextDelta);
            outputIds.AddRange(chunk.NewOutputIds);
            var response = new GenerateResponse
            {
                Text = text.ToString(),
                OutputIds = outputIds.ToArray(),
                MetaInfo = GenerateMetaInfo.From(chunk.MetaInfo),
                Index = single ? null : chunk.Index,
            };
            await ServerSentEvents.WriteAsync(context.Response, response, ServerJsonContext.Default.GenerateResponse, cancel);
        }
        await ServerSentEvents.WriteDoneAsync(context.Response, cancel);
    }
}
