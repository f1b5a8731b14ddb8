using Microsoft.Extensions.Logging;

namespace Specialized.Server;

/// <summary>
/// Runs an endpoint and answers what it throws: the caller's mistakes with a 400 in OpenAI's error shape, a departed
/// client with nothing (its request is already cancelled), a shut-down engine with a 503, anything else with a 500
/// that is logged. Other requests are untouched either way.
/// </summary>
internal static class EndpointGuard
{
    public static async Task RunAsync(HttpContext context, ILogger logger, Func<Task> endpoint)
    {
        try
        {
            await endpoint();
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            logger.LogDebug("{Path}: the client went away; its request was cancelled", context.Request.Path);
        }
        catch (InvalidRequestException e)
        {
            await ErrorAsync(context, logger, e.Status, e.Message, e.Param, e.Code);
        }
        catch (ArgumentException e)
        {
            // The engine's own checks (SamplingParams, prompts, chat roles) name the problem in their message.
            await ErrorAsync(context, logger, StatusCodes.Status400BadRequest, e.Message, null, "invalid_value");
        }
        catch (ObjectDisposedException)
        {
            await ErrorAsync(context, logger, StatusCodes.Status503ServiceUnavailable, "The engine is shut down.", null, null);
        }
        catch (Exception e)
        {
            logger.LogError(e, "{Path} failed", context.Request.Path);
            await ErrorAsync(context, logger, StatusCodes.Status500InternalServerError, $"Internal error: {e.Message}", null, null);
        }
    }

    private static Task ErrorAsync(HttpContext context, ILogger logger, int status, string message, string? param, string? code)
    {
        if (context.Response.HasStarted)
        {
            // Mid-stream there is no status line left to send; the client sees the stream end without [DONE].
            logger.LogWarning("{Path}: stream ended early: {Message}", context.Request.Path, message);
            return Task.CompletedTask;
        }
        return HttpJson.WriteErrorAsync(context.Response, status, message, param, code);
    }
}
