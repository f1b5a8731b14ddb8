using System.Text.Json;
using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>OpenAI's and SGLang's <c>stop</c>: one string or a list of strings, read as a list either way.</summary>
internal sealed class StringOrListConverter : JsonConverter<List<string>>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return [reader.GetString()!];
            case JsonTokenType.StartArray:
                var list = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String) throw new JsonException("expected a string or an array of strings");
                    list.Add(reader.GetString()!);
                }
                return list;
            default:
                throw new JsonException("expected a string or an array of strings");
        }
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (string s in value) writer.WriteStringValue(s);
        writer.WriteEndArray();
    }
}
