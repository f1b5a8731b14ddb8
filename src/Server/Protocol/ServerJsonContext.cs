using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>
/// Source-generated JSON for every body the server reads or writes, snake_case as OpenAI and SGLang spell fields.
/// Reading is strict about types (a string where a number belongs is a 400) and ignores unknown fields, as OpenAI does.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(GenerateRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(GenerateResponse))]
[JsonSerializable(typeof(List<GenerateResponse>))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(ModelList))]
internal sealed partial class ServerJsonContext : JsonSerializerContext;
