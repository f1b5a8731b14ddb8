using System.Text;
using System.Text.Json;

namespace Specialized.Cli.Commands;

/// <summary>A <see cref="GenerateOutput"/> as SGLang's JSON: text, output_ids, meta_info (with extra meta fields the caller adds).</summary>
internal static class GenerateJson
{
    public static string Write(GenerateOutput output, Action<Utf8JsonWriter>? extraMeta = null)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (output.Text is null) w.WriteNull("text");
            else w.WriteString("text", output.Text);
            w.WriteStartArray("output_ids");
            foreach (int id in output.OutputIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            MetaInfo m = output.MetaInfo;
            w.WriteStartObject("meta_info");
            w.WriteString("id", m.Id);
            w.WriteNumber("prompt_tokens", m.PromptTokens);
            w.WriteNumber("completion_tokens", m.CompletionTokens);
            w.WriteNumber("cached_tokens", m.CachedTokens);
            w.WriteStartObject("finish_reason");
            w.WriteString("type", m.FinishReason?.TypeName);
            switch (m.FinishReason?.Matched)
            {
                case int token: w.WriteNumber("matched", token); break;
                case string stop: w.WriteString("matched", stop); break;
            }
            if (m.FinishReason?.Message is string message) w.WriteString("message", message);
            w.WriteEndObject();
            w.WriteNumber("e2e_latency", m.E2ELatency);
            extraMeta?.Invoke(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
