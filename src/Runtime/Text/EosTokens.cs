using System.Text.Json;
using Specialized.Models;

namespace Specialized.Text;

/// <summary>The end-of-sequence token ids of a checkpoint, gathered as SGLang does.</summary>
public static class EosTokens
{
    /// <summary>config.json's eos ids, generation_config.json's (Qwen2.5-Instruct lists both im_end and endoftext there) and the tokenizer's.</summary>
    public static HashSet<int> Of(string checkpointFolder, ModelSpec spec, Qwen2Tokenizer? tokenizer)
    {
        var eos = new HashSet<int>(spec.EosTokenIds);
        if (tokenizer is not null) eos.Add(tokenizer.EosTokenId);
        string generationConfig = Path.Combine(checkpointFolder, "generation_config.json");
        if (File.Exists(generationConfig))
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(generationConfig));
            if (doc.RootElement.TryGetProperty("eos_token_id", out JsonElement e))
            {
                if (e.ValueKind == JsonValueKind.Number) eos.Add(e.GetInt32());
                else if (e.ValueKind == JsonValueKind.Array) eos.UnionWith(e.EnumerateArray().Select(x => x.GetInt32()));
            }
        }
        return eos;
    }
}
