using System.Text.Json;
using System.Text.Json.Serialization;
using Specialized.Sampling;

namespace Specialized.Server.Protocol;

/// <summary>SGLang's native <c>/generate</c> result for one prompt (or sample): the engine's <see cref="GenerateOutput"/> as JSON.</summary>
internal sealed class GenerateResponse
{
    public required string Text { get; init; }
    public required IReadOnlyList<int> OutputIds { get; init; }
    public required GenerateMetaInfo MetaInfo { get; init; }

    /// <summary>In a streamed batch, which prompt (and sample) the event belongs to.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Index { get; init; }
}

internal sealed class GenerateMetaInfo
{
    public required string Id { get; init; }

    [JsonConverter(typeof(FinishReasonConverter))]
    public FinishReason? FinishReason { get; init; }

    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int CachedTokens { get; init; }
    public double E2eLatency { get; init; }

    /// <summary>SGLang's layout: one <c>[logprob, token_id, null]</c> per output token.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonConverter(typeof(LogprobTuplesConverter))]
    public IReadOnlyList<TokenLogprob>? OutputTokenLogprobs { get; init; }

    /// <summary>Per output token, its most likely alternatives as <c>[logprob, token_id, null]</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonConverter(typeof(LogprobTupleListsConverter))]
    public IReadOnlyList<IReadOnlyList<TokenLogprob>>? OutputTopLogprobs { get; init; }

    public static GenerateMetaInfo From(MetaInfo meta, GenerateOutput? output = null) => new()
    {
        Id = meta.Id,
        FinishReason = meta.FinishReason,
        PromptTokens = meta.PromptTokens,
        CompletionTokens = meta.CompletionTokens,
        CachedTokens = meta.CachedTokens,
        E2eLatency = meta.E2ELatency,
        OutputTokenLogprobs = output?.OutputTokenLogprobs,
        OutputTopLogprobs = output?.OutputTopLogprobs,
    };
}

/// <summary>SGLang's <c>finish_reason</c> object: <c>{"type": "stop", "matched": 151645}</c>, <c>{"type": "abort", "message": ...}</c>.</summary>
internal sealed class FinishReasonConverter : JsonConverter<FinishReason>
{
    public override FinishReason Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Finish reasons are only written.");

    public override void Write(Utf8JsonWriter writer, FinishReason value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("type", value.TypeName);
        switch (value.Matched)
        {
            case int id: writer.WriteNumber("matched", id); break;
            case string s: writer.WriteString("matched", s); break;
        }
        if (value.Message is not null) writer.WriteString("message", value.Message);
        writer.WriteEndObject();
    }
}

internal sealed class LogprobTuplesConverter : JsonConverter<IReadOnlyList<TokenLogprob>>
{
    public override IReadOnlyList<TokenLogprob> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Logprobs are only written.");

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<TokenLogprob> value, JsonSerializerOptions options) => WriteTuples(writer, value);

    internal static void WriteTuples(Utf8JsonWriter writer, IReadOnlyList<TokenLogprob> value)
    {
        writer.WriteStartArray();
        foreach (TokenLogprob t in value)
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(t.Logprob);
            writer.WriteNumberValue(t.TokenId);
            writer.WriteNullValue();
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }
}

internal sealed class LogprobTupleListsConverter : JsonConverter<IReadOnlyList<IReadOnlyList<TokenLogprob>>>
{
    public override IReadOnlyList<IReadOnlyList<TokenLogprob>> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Logprobs are only written.");

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<IReadOnlyList<TokenLogprob>> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (IReadOnlyList<TokenLogprob> step in value) LogprobTuplesConverter.WriteTuples(writer, step);
        writer.WriteEndArray();
    }
}
