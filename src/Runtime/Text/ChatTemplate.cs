using System.Text;

namespace Specialized.Text;

/// <summary>
/// Qwen2.5-Instruct's chat template (ChatML), written in C#: renders a conversation into the prompt text, byte for
/// byte what Hugging Face's apply_chat_template renders with the template of Qwen2.5's tokenizer_config.json
/// (vendored as models/qwen-tokenizer/qwen2.5_chat_template.jinja) when no tools are passed.
/// </summary>
/// <remarks>
/// Each message becomes <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>. A conversation that does not open with a
/// system message gets <see cref="DefaultSystemPrompt"/>. Consecutive tool results go in one user turn, each in
/// <c>&lt;tool_response&gt;</c> tags. Tool definitions and assistant tool calls are outside this renderer.
/// </remarks>
public static class ChatTemplate
{
    /// <summary>The system prompt Qwen2.5's template inserts when the conversation has none.</summary>
    public const string DefaultSystemPrompt = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    /// <summary>The prompt text of <paramref name="messages"/>.</summary>
    /// <param name="messages">At least one message; roles are those of <see cref="ChatRoles"/>.</param>
    /// <param name="addGenerationPrompt">End with an open assistant turn, for the model to write the reply.</param>
    /// <exception cref="ArgumentException">No messages, or a role the template does not know.</exception>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("A conversation needs at least one message.", nameof(messages));

        var prompt = new StringBuilder();
        string system = messages[0].Role == ChatRoles.System ? messages[0].Content : DefaultSystemPrompt;
        prompt.Append("<|im_start|>system\n").Append(system).Append("<|im_end|>\n");

        for (int i = 0; i < messages.Count; i++)
        {
            ChatMessage message = messages[i];
            switch (message.Role)
            {
                case ChatRoles.System when i == 0:
                    break;
                case ChatRoles.System or ChatRoles.User or ChatRoles.Assistant:
                    prompt.Append("<|im_start|>").Append(message.Role).Append('\n').Append(message.Content).Append("<|im_end|>\n");
                    break;
                case ChatRoles.Tool:
                    if (i == 0 || messages[i - 1].Role != ChatRoles.Tool) prompt.Append("<|im_start|>user");
                    prompt.Append("\n<tool_response>\n").Append(message.Content).Append("\n</tool_response>");
                    if (i == messages.Count - 1 || messages[i + 1].Role != ChatRoles.Tool) prompt.Append("<|im_end|>\n");
                    break;
                default:
                    throw new ArgumentException($"messages[{i}] has role \"{message.Role}\"; use \"system\", \"user\", \"assistant\" or \"tool\".", nameof(messages));
            }
        }

        if (addGenerationPrompt) prompt.Append("<|im_start|>assistant\n");
        return prompt.ToString();
    }
}
