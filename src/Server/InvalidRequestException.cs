namespace Specialized.Server;

/// <summary>A request the server will not run, answered with this status and OpenAI's error body; nothing was queued.</summary>
internal sealed class InvalidRequestException(string message, string? param, string? code = "invalid_value", int status = StatusCodes.Status400BadRequest)
    : Exception(message)
{
    /// <summary>The request field at fault, as spelled on the wire.</summary>
    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public int Status { get; } = status;
}
