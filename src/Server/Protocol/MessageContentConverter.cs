using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Specialized.Server.Protocol;

/// <summary>
/// A chat message's <c>content</c>: a string, or OpenAI's list of content parts of which this text-only model reads
/// the <c>text</c> parts (joined in order). Any other part type is an error rather than silently dropped.
/// </summary>
internal sealed class MessageContentConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType == JsonTokenType.String) return reader.GetString();
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected a string or an array of content parts");

        var text = new StringBuilder();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("expected content parts as objects");
            string? type = null, partText = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                reader.Read();
                if (name == "type" && reader.TokenType == JsonTokenType.String) type = reader.GetString();
                else if (name == "text" && reader.TokenType == JsonTokenType.String) partText = reader.GetString();
                else reader.Skip();
            }
            if (type != "text" || partText is null)
            {
                throw new JsonException($"content parts of type \"{type}\" are not supported: this model reads text parts only");
            }
            text.Append(partText);
        }
        return text.ToString();
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
