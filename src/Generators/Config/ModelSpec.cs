using System;
using System.Globalization;
using System.Text;

namespace Specialized.Models;

/// <summary>
/// Everything about a Qwen2 model that the code depends on, read from its config.json. A value-equatable
/// record: the generator caches on it and the runtime matches checkpoints by its <see cref="Fingerprint"/>.
/// </summary>
public sealed record ModelSpec(
    string ModelType,
    string Architecture,
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int NumKeyValueHeads,
    int HeadDim,
    int MaxPositionEmbeddings,
    double RopeTheta,
    string RopeScalingType,
    double RopeScalingFactor,
    double RmsNormEps,
    bool TieWordEmbeddings,
    string DType,
    EquatableArray<int> SlidingWindows,
    int? BosTokenId,
    EquatableArray<int> EosTokenIds,
    string HiddenAct)
{
    /// <summary>Width of all query heads together: heads x head_dim.</summary>
    public int QSize => NumAttentionHeads * HeadDim;

    /// <summary>Width of all key (or value) heads together: kv heads x head_dim.</summary>
    public int KvSize => NumKeyValueHeads * HeadDim;

    /// <summary>Width of the fused q/k/v projection's output.</summary>
    public int QkvSize => QSize + 2 * KvSize;

    /// <summary>Width of the fused gate/up projection's output.</summary>
    public int GateUpSize => 2 * IntermediateSize;

    /// <summary>Query heads that share one key/value head.</summary>
    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>
    /// The fields that change the math, in one canonical line. Two configs with the same fingerprint run on the
    /// same specialized code (Qwen2-0.5B and Qwen2.5-0.5B-Instruct do). Context length, dtype and token ids
    /// are left out: they change no kernel.
    /// </summary>
    public string Fingerprint
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append("qwen2");
            sb.Append(";vocab=").Append(Int(VocabSize));
            sb.Append(";hidden=").Append(Int(HiddenSize));
            sb.Append(";intermediate=").Append(Int(IntermediateSize));
            sb.Append(";layers=").Append(Int(NumHiddenLayers));
            sb.Append(";heads=").Append(Int(NumAttentionHeads));
            sb.Append(";kv_heads=").Append(Int(NumKeyValueHeads));
            sb.Append(";head_dim=").Append(Int(HeadDim));
            sb.Append(";rope_theta=").Append(Real(RopeTheta));
            sb.Append(";rope_scaling=").Append(RopeScalingType);
            if (RopeScalingType != "none") sb.Append(':').Append(Real(RopeScalingFactor));
            sb.Append(";eps=").Append(Real(RmsNormEps));
            sb.Append(";tied=").Append(TieWordEmbeddings ? "true" : "false");
            sb.Append(";act=").Append(HiddenAct);
            sb.Append(";windows=");
            for (int i = 0; i < SlidingWindows.Count; i++)
            {
                int run = 1;
                while (i + run < SlidingWindows.Count && SlidingWindows[i + run] == SlidingWindows[i]) run++;
                if (sb[sb.Length - 1] != '=') sb.Append(',');
                sb.Append(Int(SlidingWindows[i])).Append('x').Append(Int(run));
                i += run - 1;
            }
            return sb.ToString();
        }
    }

    /// <summary>A short stable hash of <see cref="Fingerprint"/> (64-bit FNV-1a, hex), for cache folder names.</summary>
    public string FingerprintHash
    {
        get
        {
            ulong hash = 14695981039346656037UL;
            foreach (byte b in Encoding.UTF8.GetBytes(Fingerprint))
            {
                hash ^= b;
                hash *= 1099511628211UL;
            }
            return hash.ToString("x16", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Parameters in the checkpoint (the HF count: tied embeddings counted once).</summary>
    public long ParameterCount
    {
        get
        {
            long h = HiddenSize;
            long perLayer = 2 * h                                     // two RMSNorm weights
                + (long)QkvSize * h + QkvSize                         // q/k/v projections with biases
                + (long)QSize * h                                     // o_proj
                + 3L * IntermediateSize * h;                          // gate, up, down
            long embeddings = (long)VocabSize * h;
            return embeddings + NumHiddenLayers * perLayer + h + (TieWordEmbeddings ? 0 : embeddings);
        }
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Shortest round-trip form, so the build and the runtime write the same text for the same double.</summary>
    public static string Real(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
