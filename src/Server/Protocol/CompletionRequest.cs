namespace Specialized.Server.Protocol;

/// <summary>The body of <c>POST /v1/completions</c>.</summary>
internal sealed class CompletionRequest : OpenAiSamplingFields
{
    public PromptInput? Prompt { get; init; }

    /// <summary>OpenAI's completions logprobs: how many most likely tokens to list per step (0 lists only the chosen one).</summary>
    public int? Logprobs { get; init; }

    public bool Echo { get; init; }
    public string? Suffix { get; init; }
    public int? BestOf { get; init; }
}
