using Microsoft.Extensions.AI;
using EngineChatMessage = Specialized.Text.ChatMessage;

namespace Specialized;

/// <summary>
/// How Microsoft.Extensions.AI's chat types map onto the engine's: messages onto the chat template's, options onto
/// <see cref="SamplingParams"/>, the engine's finish reasons and counts back onto the abstractions'.
/// </summary>
internal static class ChatClientMapping
{
    /// <summary>
    /// The conversation the chat template renders: system, user and assistant messages of text, after the options'
    /// instructions as a system message. Other roles throw <see cref="ArgumentException"/>; contents other than text
    /// (images, function calls and results, ...) throw <see cref="NotSupportedException"/>.
    /// </summary>
    public static List<EngineChatMessage> ToEngineMessages(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var conversation = new List<EngineChatMessage>();
        if (!string.IsNullOrEmpty(options?.Instructions)) conversation.Add(EngineChatMessage.System(options.Instructions));

        int index = 0;
        foreach (ChatMessage message in messages)
        {
            ArgumentNullException.ThrowIfNull(message, $"messages[{index}]");
            string role = RoleName(message.Role, index);
            var text = new System.Text.StringBuilder();
            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        text.Append(t.Text);
                        break;
                    // Usage of an earlier reply, kept in its message by a caller that gathered streamed updates: not prompt text.
                    case UsageContent:
                        break;
                    default:
                        throw new NotSupportedException(
                            $"messages[{index}] holds {content.GetType().Name}: this chat client takes text only (no images, files, tool calls or reasoning).");
                }
            }
            conversation.Add(new EngineChatMessage(role, text.ToString()));
            index++;
        }
        if (index == 0) throw new ArgumentException("A conversation needs at least one message.", nameof(messages));
        return conversation;
    }

    /// <summary>
    /// The request's sampling: <see cref="ChatOptions.RawRepresentationFactory"/>'s <see cref="SamplingParams"/> when it
    /// makes one (for fields ChatOptions lacks, such as MinP or RepetitionPenalty), else the defaults, overridden by every
    /// option that is set. The engine validates the result, so an out-of-range value is an ArgumentException naming it.
    /// </summary>
    /// <exception cref="NotSupportedException">Tools, or a JSON response format: the engine neither parses tool calls nor constrains decoding.</exception>
    public static SamplingParams ToSamplingParams(ChatOptions? options, IChatClient client)
    {
        if (options is null) return new SamplingParams();
        if (options.Tools is { Count: > 0 })
        {
            throw new NotSupportedException("ChatOptions.Tools: this chat client does not support tool calling; leave Tools empty.");
        }
        if (options.ResponseFormat is ChatResponseFormatJson)
        {
            throw new NotSupportedException("ChatOptions.ResponseFormat JSON: the engine has no constrained decoding; ask for JSON in the prompt and use ChatResponseFormat.Text.");
        }

        SamplingParams p = options.RawRepresentationFactory?.Invoke(client) as SamplingParams ?? new SamplingParams();
        return p with
        {
            Temperature = options.Temperature ?? p.Temperature,
            TopP = options.TopP ?? p.TopP,
            TopK = options.TopK ?? p.TopK,
            MaxNewTokens = options.MaxOutputTokens ?? p.MaxNewTokens,
            Stop = options.StopSequences is { Count: > 0 } stop ? [.. stop] : p.Stop,
            FrequencyPenalty = options.FrequencyPenalty ?? p.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty ?? p.PresencePenalty,
            Seed = options.Seed ?? p.Seed,
        };
    }

    /// <summary>Stop and length map one to one; an abort (the prompt does not fit the context, the engine stopped) is an error.</summary>
    /// <exception cref="InvalidOperationException">The engine aborted the request; the message says why.</exception>
    public static ChatFinishReason ToChatFinishReason(FinishReason finish) => finish.Type switch
    {
        FinishType.Stop => ChatFinishReason.Stop,
        FinishType.Length => ChatFinishReason.Length,
        _ => throw new InvalidOperationException($"The engine aborted the request: {finish.Message ?? finish.ToString()}"),
    };

    public static UsageDetails ToUsage(MetaInfo meta) => new()
    {
        InputTokenCount = meta.PromptTokens,
        OutputTokenCount = meta.CompletionTokens,
        TotalTokenCount = meta.PromptTokens + meta.CompletionTokens,
        CachedInputTokenCount = meta.CachedTokens,
    };

    private static string RoleName(ChatRole role, int index)
    {
        if (role == ChatRole.System) return Text.ChatRoles.System;
        if (role == ChatRole.User) return Text.ChatRoles.User;
        if (role == ChatRole.Assistant) return Text.ChatRoles.Assistant;
        throw new ArgumentException(
            $"messages[{index}] has role \"{role}\": this chat client renders system, user and assistant messages (tool calling is not supported).", "messages");
    }
}
