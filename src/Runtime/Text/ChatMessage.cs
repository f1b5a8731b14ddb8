namespace Specialized.Text;

/// <summary>One message of a conversation, with the OpenAI/Hugging Face role names.</summary>
/// <param name="Role">"system", "user", "assistant" or "tool" (a tool's result).</param>
/// <param name="Content">The message text, verbatim: special tokens written in it are not escaped.</param>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new(ChatRoles.System, content);

    public static ChatMessage User(string content) => new(ChatRoles.User, content);

    public static ChatMessage Assistant(string content) => new(ChatRoles.Assistant, content);

    public static ChatMessage Tool(string content) => new(ChatRoles.Tool, content);
}

/// <summary>The role names <see cref="ChatTemplate"/> renders.</summary>
public static class ChatRoles
{
    public const string System = "system";
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string Tool = "tool";
}
