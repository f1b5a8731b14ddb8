using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Specialized;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an <see cref="Engine"/>, as LLamaSharp and ONNX Runtime
/// GenAI provide one: the conversation is rendered with Qwen2.5's chat template and generated like any request, so it
/// batches with the engine's other work. It does not own the engine; disposing it leaves the engine running.
/// </summary>
/// <remarks>
/// <see cref="ChatOptions"/> maps onto <see cref="SamplingParams"/>: Temperature, TopP, TopK, MaxOutputTokens
/// (MaxNewTokens), StopSequences (Stop), FrequencyPenalty, PresencePenalty and Seed; Instructions become a leading
/// system message; RawRepresentationFactory may return a <see cref="SamplingParams"/> to start from. Tools and a JSON
/// response format throw <see cref="NotSupportedException"/>. ModelId, ConversationId, ToolMode without tools,
/// Reasoning, background responses and AdditionalProperties are ignored: there is one model and no server-side state.
/// </remarks>
public sealed class SpecializedChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="ChatClientMetadata"/>.</summary>
    public const string ProviderName = "specialized";

    private readonly Engine _engine;
    private readonly ChatClientMetadata _metadata;

    /// <param name="engine">The engine to generate with; it needs a tokenizer.</param>
    /// <param name="modelId">The model id responses report; default: the checkpoint folder's name.</param>
    public SpecializedChatClient(Engine engine, string? modelId = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        ModelId = modelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(engine.ModelPath)));
        _metadata = new ChatClientMetadata(ProviderName, providerUri: null, defaultModelId: ModelId);
    }

    public string ModelId { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        (string prompt, SamplingParams parameters) = Request(messages, options);
        DateTimeOffset created = DateTimeOffset.UtcNow;
        GenerateOutput output = await _engine.GenerateAsync(prompt, parameters, cancellationToken).ConfigureAwait(false);
        MetaInfo meta = output.MetaInfo;
        ChatFinishReason finish = ChatClientMapping.ToChatFinishReason(meta.FinishReason!);
        var reply = new ChatMessage(ChatRole.Assistant, output.Text) { MessageId = meta.Id, CreatedAt = created, RawRepresentation = output };
        return new ChatResponse(reply)
        {
            ResponseId = meta.Id,
            ModelId = ModelId,
            CreatedAt = created,
            FinishReason = finish,
            Usage = ChatClientMapping.ToUsage(meta),
            RawRepresentation = output,
        };
    }

    /// <summary>One update per engine chunk; the last carries the finish reason and a <see cref="UsageContent"/>.</summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        (string prompt, SamplingParams parameters) = Request(messages, options);
        DateTimeOffset created = DateTimeOffset.UtcNow;
        await foreach (StreamChunk chunk in _engine.GenerateStreamAsync(prompt, parameters, cancellationToken).ConfigureAwait(false))
        {
            FinishReason? finish = chunk.MetaInfo.FinishReason;
            ChatFinishReason? chatFinish = finish is null ? null : ChatClientMapping.ToChatFinishReason(finish);
            var contents = new List<AIContent>();
            if (chunk.TextDelta.Length > 0) contents.Add(new TextContent(chunk.TextDelta));
            if (finish is not null) contents.Add(new UsageContent(ChatClientMapping.ToUsage(chunk.MetaInfo)));
            yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
            {
                ResponseId = chunk.MetaInfo.Id,
                MessageId = chunk.MetaInfo.Id,
                ModelId = ModelId,
                CreatedAt = created,
                FinishReason = chatFinish,
                RawRepresentation = chunk,
            };
        }
    }

    /// <summary><see cref="ChatClientMetadata"/> (provider "specialized", the model id), the <see cref="Engine"/>, or this client.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to free: the engine belongs to whoever created it.</summary>
    public void Dispose()
    {
    }

    private (string Prompt, SamplingParams Parameters) Request(IEnumerable<ChatMessage> messages, ChatOptions? options) =>
        (_engine.ApplyChatTemplate(ChatClientMapping.ToEngineMessages(messages, options)), ChatClientMapping.ToSamplingParams(options, this));
}
