namespace Specialized.Models;

/// <summary>
/// The dimensions of a Qwen2 model as a kernel sees them. Kernels are generic over a struct implementing this:
/// a generated <c>Dims</c> struct returns literals (the JIT and ILGPU fold them into the code), while
/// <see cref="RuntimeDims"/> carries the same values in fields for checkpoints no build has specialized.
/// Implementations must be blittable (no bool fields): ILGPU passes them to kernels by value.
/// </summary>
public interface IQwen2Dims
{
    int VocabSize { get; }
    int HiddenSize { get; }
    int IntermediateSize { get; }
    int NumLayers { get; }
    int NumHeads { get; }
    int NumKvHeads { get; }
    int HeadDim { get; }

    /// <summary>NumHeads x HeadDim.</summary>
    int QSize { get; }

    /// <summary>NumKvHeads x HeadDim.</summary>
    int KvSize { get; }

    /// <summary>QSize + 2 x KvSize: the width of the fused q/k/v projection.</summary>
    int QkvSize { get; }

    /// <summary>Query heads per key/value head.</summary>
    int GroupSize { get; }

    float RmsNormEps { get; }
    double RopeTheta { get; }

    /// <summary>Multiplier applied to positions before rotation: 1 / factor for linear rope scaling, else 1.</summary>
    double RopePositionScale { get; }
}

/// <summary>Dimensions held in fields, read from a config at run time: the generic instantiation of the kernels.</summary>
public readonly struct RuntimeDims : IQwen2Dims
{
    public RuntimeDims(ModelSpec spec)
    {
        VocabSize = spec.VocabSize;
        HiddenSize = spec.HiddenSize;
        IntermediateSize = spec.IntermediateSize;
        NumLayers = spec.NumHiddenLayers;
        NumHeads = spec.NumAttentionHeads;
        NumKvHeads = spec.NumKeyValueHeads;
        HeadDim = spec.HeadDim;
        QSize = spec.QSize;
        KvSize = spec.KvSize;
        QkvSize = spec.QkvSize;
        GroupSize = spec.GroupSize;
        RmsNormEps = (float)spec.RmsNormEps;
        RopeTheta = spec.RopeTheta;
        RopePositionScale = 1.0 / spec.RopeScalingFactor;
    }

    public int VocabSize { get; }
    public int HiddenSize { get; }
    public int IntermediateSize { get; }
    public int NumLayers { get; }
    public int NumHeads { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }
    public int QSize { get; }
    public int KvSize { get; }
    public int QkvSize { get; }
    public int GroupSize { get; }
    public float RmsNormEps { get; }
    public double RopeTheta { get; }
    public double RopePositionScale { get; }
}
