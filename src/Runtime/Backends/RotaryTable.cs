using Specialized.Models;

namespace Specialized.Backends;

/// <summary>
/// cos and sin of every (position, frequency) pair, computed once on the host the way Hugging Face's Qwen2 does it
/// in float32: inv_freq[i] = 1 / theta^(2i / d), angle = position x inv_freq, both rounded to float32 (neox layout:
/// element i pairs with element i + d/2). Backends read it instead of calling trig functions per token.
/// </summary>
public sealed class RotaryTable
{
    public RotaryTable(int headDim, double theta, double positionScale, int maxPositions)
    {
        if (headDim % 2 != 0) throw new ArgumentException("head_dim must be even.", nameof(headDim));
        HeadDim = headDim;
        MaxPositions = maxPositions;
        int half = headDim / 2;
        var invFreq = new float[half];
        float thetaF = (float)theta;
        for (int i = 0; i < half; i++)
        {
            float exponent = (2 * i) / (float)headDim;
            invFreq[i] = 1f / MathF.Pow(thetaF, exponent);
            if (positionScale != 1.0) invFreq[i] = (float)(invFreq[i] * positionScale);
        }
        Cos = new float[(long)maxPositions * half];
        Sin = new float[(long)maxPositions * half];
        for (int p = 0; p < maxPositions; p++)
        {
            for (int i = 0; i < half; i++)
            {
                float angle = p * invFreq[i];
                Cos[p * half + i] = (float)Math.Cos(angle);
                Sin[p * half + i] = (float)Math.Sin(angle);
            }
        }
    }

    public static RotaryTable For<TDims>(TDims dims, int maxPositions) where TDims : struct, IQwen2Dims =>
        new(dims.HeadDim, dims.RopeTheta, dims.RopePositionScale, maxPositions);

    public int HeadDim { get; }

    public int MaxPositions { get; }

    /// <summary>[position, head_dim / 2]</summary>
    public float[] Cos { get; }

    /// <summary>[position, head_dim / 2]</summary>
    public float[] Sin { get; }
}
