namespace Specialized.Server.Protocol;

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal sealed record ErrorResponse(ErrorDetail Error);

/// <param name="Type">"invalid_request_error" for the caller's mistakes, "server_error" for ours.</param>
/// <param name="Param">The request field at fault, as spelled on the wire, when there is one.</param>
/// <param name="Code">A stable machine-readable reason, when there is one.</param>
internal sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
