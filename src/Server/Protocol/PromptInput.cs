using System.Text.Json;
using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>
/// The prompts of one request, in any of the forms OpenAI's <c>prompt</c> and SGLang's <c>text</c>/<c>input_ids</c>
/// accept: a string, a list of strings, a list of token ids, or a list of lists of token ids. Exactly one of
/// <see cref="Texts"/> and <see cref="TokenIds"/> is set.
/// </summary>
[JsonConverter(typeof(PromptInputConverter))]
internal sealed class PromptInput
{
    public List<string>? Texts { get; init; }

    public List<int[]>? TokenIds { get; init; }

    /// <summary>Whether the JSON was a single prompt (a string or one list of ids) rather than a batch.</summary>
    public bool IsSingle { get; init; }

    public int Count => Texts?.Count ?? TokenIds!.Count;
}

internal sealed class PromptInputConverter : JsonConverter<PromptInput>
{
    private const string Expected = "expected a string, an array of strings, an array of token ids or an array of arrays of token ids";

    public override PromptInput? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.String) return new PromptInput { Texts = [reader.GetString()!], IsSingle = true };
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException(Expected);

        var texts = new List<string>();
        var idLists = new List<int[]>();
        var ids = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    texts.Add(reader.GetString()!);
                    break;
                case JsonTokenType.Number:
                    ids.Add(reader.GetInt32());
                    break;
                case JsonTokenType.StartArray:
                    idLists.Add(ReadIds(ref reader));
                    break;
                default:
                    throw new JsonException(Expected);
            }
        }
        int kinds = (texts.Count > 0 ? 1 : 0) + (ids.Count > 0 ? 1 : 0) + (idLists.Count > 0 ? 1 : 0);
        if (kinds > 1) throw new JsonException(Expected + ", not a mix of them");
        if (texts.Count > 0) return new PromptInput { Texts = texts };
        if (ids.Count > 0) return new PromptInput { TokenIds = [ids.ToArray()], IsSingle = true };
        return new PromptInput { TokenIds = idLists };
    }

    private static int[] ReadIds(ref Utf8JsonReader reader)
    {
        var ids = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number) throw new JsonException(Expected);
            ids.Add(reader.GetInt32());
        }
        return ids.ToArray();
    }

    public override void Write(Utf8JsonWriter writer, PromptInput value, JsonSerializerOptions options) =>
        throw new NotSupportedException("Prompts are only read.");
}
