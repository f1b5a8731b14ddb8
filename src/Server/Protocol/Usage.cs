namespace Specialized.Server.Protocol;

/// <summary>OpenAI's <c>usage</c>: prompt tokens count once per prompt, completion tokens once per choice.</summary>
internal sealed record Usage(int PromptTokens, int CompletionTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}
