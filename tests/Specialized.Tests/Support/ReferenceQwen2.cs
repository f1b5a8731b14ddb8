using Specialized.Models;

namespace Specialized.Tests.Support;

/// <summary>
/// A plain float64 Qwen2 forward over one sequence, written from the Hugging Face modeling code and nothing else:
/// the independent reference the CPU backend is checked against before the HF-recorded data.
/// </summary>
internal static class ReferenceQwen2
{
    /// <summary>Logits [position][vocab] for every position of <paramref name="tokens"/>.</summary>
    public static double[][] Logits(RandomModel m, int[] tokens)
    {
        ModelSpec s = m.Spec;
        int n = tokens.Length, h = s.HiddenSize, d = s.HeadDim;
        double[][] x = tokens.Select(t => Row(m.Tensors["model.embed_tokens.weight"], t, h)).ToArray();
        for (int l = 0; l < s.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            double[][] normed = x.Select(r => Norm(r, m.Tensors[p + "input_layernorm.weight"], s.RmsNormEps)).ToArray();
            double[][] q = normed.Select(r => Linear(r, m.Tensors[p + "self_attn.q_proj.weight"], m.Tensors[p + "self_attn.q_proj.bias"])).ToArray();
            double[][] k = normed.Select(r => Linear(r, m.Tensors[p + "self_attn.k_proj.weight"], m.Tensors[p + "self_attn.k_proj.bias"])).ToArray();
            double[][] v = normed.Select(r => Linear(r, m.Tensors[p + "self_attn.v_proj.weight"], m.Tensors[p + "self_attn.v_proj.bias"])).ToArray();
            for (int t = 0; t < n; t++)
            {
                Rope(q[t], s.NumAttentionHeads, d, t, s.RopeTheta);
                Rope(k[t], s.NumKeyValueHeads, d, t, s.RopeTheta);
            }
            var attn = new double[n][];
            for (int t = 0; t < n; t++)
            {
                attn[t] = new double[s.QSize];
                int window = s.SlidingWindows[l];
                int first = window > 0 ? Math.Max(0, t - window + 1) : 0;
                for (int head = 0; head < s.NumAttentionHeads; head++)
                {
                    int kvh = head / s.GroupSize;
                    var scores = new double[t - first + 1];
                    for (int j = first; j <= t; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += q[t][head * d + i] * k[j][kvh * d + i];
                        scores[j - first] = dot / Math.Sqrt(d);
                    }
                    double max = scores.Max();
                    double[] e = scores.Select(z => Math.Exp(z - max)).ToArray();
                    double sum = e.Sum();
                    for (int j = first; j <= t; j++)
                    {
                        for (int i = 0; i < d; i++) attn[t][head * d + i] += e[j - first] / sum * v[j][kvh * d + i];
                    }
                }
            }
            for (int t = 0; t < n; t++)
            {
                double[] o = Linear(attn[t], m.Tensors[p + "self_attn.o_proj.weight"], null);
                for (int i = 0; i < h; i++) x[t][i] += o[i];
                double[] nx = Norm(x[t], m.Tensors[p + "post_attention_layernorm.weight"], s.RmsNormEps);
                double[] gate = Linear(nx, m.Tensors[p + "mlp.gate_proj.weight"], null);
                double[] up = Linear(nx, m.Tensors[p + "mlp.up_proj.weight"], null);
                double[] act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                double[] down = Linear(act, m.Tensors[p + "mlp.down_proj.weight"], null);
                for (int i = 0; i < h; i++) x[t][i] += down[i];
            }
        }
        return x.Select(r => Linear(Norm(r, m.Tensors["model.norm.weight"], s.RmsNormEps), m.Tensors["lm_head.weight"], null)).ToArray();
    }

    private static double[] Row(float[] matrix, int row, int width) => matrix.AsSpan(row * width, width).ToArray().Select(f => (double)f).ToArray();

    private static double[] Norm(double[] x, float[] w, double eps)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double inv = 1 / Math.Sqrt(ms + eps);
        return x.Select((v, i) => v * inv * w[i]).ToArray();
    }

    private static double[] Linear(double[] x, float[] w, float[]? b)
    {
        int outDim = w.Length / x.Length;
        var y = new double[outDim];
        for (int o = 0; o < outDim; o++)
        {
            double sum = b?[o] ?? 0;
            for (int i = 0; i < x.Length; i++) sum += x[i] * w[o * x.Length + i];
            y[o] = sum;
        }
        return y;
    }

    private static void Rope(double[] v, int heads, int d, int pos, double theta)
    {
        for (int head = 0; head < heads; head++)
        {
            for (int i = 0; i < d / 2; i++)
            {
                double angle = pos / Math.Pow(theta, 2.0 * i / d);
                double x1 = v[head * d + i], x2 = v[head * d + i + d / 2];
                v[head * d + i] = x1 * Math.Cos(angle) - x2 * Math.Sin(angle);
                v[head * d + i + d / 2] = x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
            }
        }
    }
}
