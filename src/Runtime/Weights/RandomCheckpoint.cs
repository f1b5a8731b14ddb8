using Specialized.Backends;
using Specialized.Models;

namespace Specialized.Weights;

/// <summary>
/// Writes a random-weight checkpoint of any Qwen2 config, so a real-shape model can run where no weights can be
/// downloaded. Values are reproducible from the seed, tensor by tensor, and spread wide enough that logits are not
/// flat: embeddings N(0, 0.5); projections N(0, 1/fan_in), with o_proj and down_proj 8x wider so each layer moves
/// the residual stream; biases N(0, 0.1); norm weights 1 + N(0, 0.1). The same rules as tools/reference.
/// </summary>
public static class RandomCheckpoint
{
    private const int ChunkElements = 1 << 20;

    /// <summary>Writes config.json (the given text, unchanged) and bf16 safetensors for it into <paramref name="folder"/>.</summary>
    public static void Write(string configJson, string folder, int seed)
    {
        ModelSpec spec = ModelConfig.Parse(configJson);
        Directory.CreateDirectory(folder);
        var tensors = new List<TensorToWrite>();
        foreach (Parameter p in new GenericQwen2Model(spec).Weights.Parameters)
        {
            foreach (HfTensor t in p.Sources)
            {
                (double mean, double std) = Distribution(t);
                int tensorSeed = seed ^ StableHash(t.Name);
                long count = t.Shape.Aggregate(1L, (a, b) => a * b);
                tensors.Add(new TensorToWrite(t.Name, SafetensorsDType.BFloat16, [.. t.Shape], stream => Fill(stream, count, mean, std, tensorSeed)));
            }
        }
        SafetensorsWriter.WriteCheckpoint(folder, tensors);
        File.WriteAllText(Path.Combine(folder, "config.json"), configJson);
    }

    private static (double Mean, double Std) Distribution(HfTensor t)
    {
        string n = t.Name;
        if (n.EndsWith("layernorm.weight", StringComparison.Ordinal) || n == "model.norm.weight") return (1.0, 0.1);
        if (n.EndsWith(".bias", StringComparison.Ordinal)) return (0.0, 0.1);
        if (n is "model.embed_tokens.weight" or "lm_head.weight") return (0.0, 0.5);
        double gain = n.EndsWith("o_proj.weight", StringComparison.Ordinal) || n.EndsWith("down_proj.weight", StringComparison.Ordinal) ? 8.0 : 1.0;
        return (0.0, gain / Math.Sqrt(t.Shape[1]));
    }

    private static void Fill(Stream stream, long count, double mean, double std, int seed)
    {
        var rng = new Random(seed);
        var values = new float[Math.Min(count, ChunkElements)];
        var bits = new ushort[values.Length];
        for (long done = 0; done < count; done += values.Length)
        {
            int n = (int)Math.Min(values.Length, count - done);
            for (int i = 0; i < n; i++)
            {
                // Box-Muller from two uniform draws in (0, 1].
                double u = 1.0 - rng.NextDouble(), v = rng.NextDouble();
                values[i] = (float)(mean + std * Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * v));
            }
            BFloat16.FromSingle(values.AsSpan(0, n), bits);
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan(0, n)));
        }
    }

    /// <summary>FNV-1a of the name: a seed per tensor that does not depend on the order tensors are written in.</summary>
    private static int StableHash(string name)
    {
        uint hash = 2166136261;
        foreach (char c in name)
        {
            hash ^= c;
            hash *= 16777619;
        }
        return (int)hash;
    }
}
