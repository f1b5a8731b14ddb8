using Microsoft.Extensions.AI;

namespace Specialized;

public static class EngineChatClientExtensions
{
    /// <summary>The engine as Microsoft.Extensions.AI's <see cref="IChatClient"/>; see <see cref="SpecializedChatClient"/>.</summary>
    /// <param name="engine">The engine to generate with; the client does not own it.</param>
    /// <param name="modelId">The model id responses report; default: the checkpoint folder's name.</param>
    public static IChatClient AsChatClient(this Engine engine, string? modelId = null) => new SpecializedChatClient(engine, modelId);
}
