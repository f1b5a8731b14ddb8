using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>The engine's finish reasons in OpenAI's terms.</summary>
internal static class FinishReasons
{
    /// <summary>"stop" or "length"; an abort never reaches a choice (it becomes an error).</summary>
    public static string OpenAiName(FinishReason reason) => reason.Type == FinishType.Length ? "length" : "stop";

    /// <summary>
    /// An aborted request as an error: the engine shutting down is a 503, a failed forward step a 500, and a request
    /// the KV cache cannot hold the caller's to shrink (400).
    /// </summary>
    public static InvalidRequestException AbortError(FinishReason reason)
    {
        string message = reason.Message ?? "aborted";
        int status = message.StartsWith("the engine shut down", StringComparison.Ordinal) ? StatusCodes.Status503ServiceUnavailable
            : message.StartsWith("internal error", StringComparison.Ordinal) ? StatusCodes.Status500InternalServerError
            : StatusCodes.Status400BadRequest;
        return new InvalidRequestException($"The request was aborted: {message}", null, status == 400 ? "context_length_exceeded" : null, status);
    }

    /// <summary>A non-streamed answer is all or nothing: the first aborted output becomes the request's error.</summary>
    public static void ThrowIfAborted(IReadOnlyList<GenerateOutput> outputs)
    {
        if (outputs.FirstOrDefault(o => o.MetaInfo.FinishReason?.Type == FinishType.Abort) is { } aborted)
        {
            throw AbortError(aborted.MetaInfo.FinishReason!);
        }
    }

    public static ErrorResponse AbortEvent(FinishReason reason)
    {
        InvalidRequestException e = AbortError(reason);
        return HttpJson.Error(e.Status, e.Message, e.Param, e.Code);
    }
}
