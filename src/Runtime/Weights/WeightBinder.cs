using System.Runtime.InteropServices;
using Specialized.Backends;

namespace Specialized.Weights;

/// <summary>
/// Matches a model's weight tree against a checkpoint before anything is uploaded: every parameter's source
/// tensors must be there, with the shape the tree declares and a dtype a weight can have (BF16, F16, F32). The
/// result is a <see cref="WeightPlan"/> a backend follows to fill its tensors. A tied model's tree has no
/// <c>lm_head.weight</c> (its output projection is the embedding matrix), so that tensor, if a tied checkpoint
/// carries it, is only a warning, like any tensor the model has no use for.
/// </summary>
public static class WeightBinder
{
    public static WeightPlan Plan(IWeightTree tree, Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(checkpoint);

        var problems = new List<CheckpointException>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var plans = new List<ParameterPlan>(tree.Parameters.Count);
        foreach (Parameter parameter in tree.Parameters)
        {
            var sources = new List<TensorView>(parameter.Sources.Count);
            foreach (HfTensor wanted in parameter.Sources)
            {
                used.Add(wanted.Name);
                if (Check(wanted, checkpoint) is CheckpointException problem)
                {
                    problems.Add(problem);
                }
                else
                {
                    checkpoint.TryGetTensor(wanted.Name, out TensorView? view);
                    sources.Add(view!);
                }
            }
            if (sources.Count == parameter.Sources.Count) plans.Add(new ParameterPlan(parameter, sources));
        }

        if (problems.Count > 0)
        {
            CheckpointException first = problems[0];
            if (problems.Count == 1) throw first;
            throw new CheckpointException(first.File, first.Tensor, $"{first.Problem} (and {problems.Count - 1} more tensors of the model are missing or wrong)");
        }

        var warnings = new List<CheckpointWarning>();
        foreach (string name in checkpoint.TensorNames.Where(n => !used.Contains(n)).Order(StringComparer.Ordinal))
        {
            // Old Qwen2 exports saved the rotary frequencies as a buffer; they are recomputed from rope_theta.
            if (name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)) continue;
            checkpoint.TryGetTensor(name, out TensorView? view);
            string why = name == "lm_head.weight"
                ? "not used: the model ties its output projection to model.embed_tokens.weight"
                : "not used by the model";
            warnings.Add(new CheckpointWarning(view!.File.Path, name, why));
        }
        return new WeightPlan(plans, warnings);
    }

    private static CheckpointException? Check(HfTensor wanted, Checkpoint checkpoint)
    {
        if (!checkpoint.TryGetTensor(wanted.Name, out TensorView? view))
        {
            return new CheckpointException(checkpoint.IndexPath, wanted.Name, $"is missing: the model needs it as {ShapeText.Format(wanted.Shape)}");
        }
        if (!view.Shape.SequenceEqual(wanted.Shape))
        {
            return new CheckpointException(view.File.Path, wanted.Name,
                $"has shape {ShapeText.Format(view.Shape)}, but the model needs {ShapeText.Format(wanted.Shape)}: the checkpoint is for another config");
        }
        if (!IsWeightType(view.DType))
        {
            return new CheckpointException(view.File.Path, wanted.Name, $"has dtype {view.DType.Name()}; weights must be BF16, F16 or F32");
        }
        return null;
    }

    private static bool IsWeightType(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.BFloat16 or SafetensorsDType.Float16 or SafetensorsDType.Float32;
}

/// <summary>What to load: every parameter of the tree with its checkpoint tensors, and what the checkpoint has beyond them.</summary>
public sealed class WeightPlan(IReadOnlyList<ParameterPlan> parameters, IReadOnlyList<CheckpointWarning> warnings)
{
    /// <summary>One entry for each parameter of the tree, in the tree's order.</summary>
    public IReadOnlyList<ParameterPlan> Parameters { get; } = parameters;

    /// <summary>Tensors the checkpoint has and the model does not use.</summary>
    public IReadOnlyList<CheckpointWarning> Warnings { get; } = warnings;
}

/// <summary>
/// One parameter and the checkpoint tensors it is stacked from, in stacking order (q | k | v, gate | up). Stacking
/// along the first dimension of row-major tensors is concatenation of their data, so the parameter is the sources'
/// elements one after the other; <see cref="CopyTo(long, Span{byte}, DType)"/> writes any run of them in the
/// dtype the backend stores, converting as it goes.
/// </summary>
public sealed class ParameterPlan : IWeightSource
{
    /// <summary>Elements converted per step, so no span over a source passes 2 GiB.</summary>
    private const int ChunkElements = 1 << 24;

    internal ParameterPlan(Parameter parameter, IReadOnlyList<TensorView> sources)
    {
        Parameter = parameter;
        Sources = sources;
    }

    public Parameter Parameter { get; }

    public IReadOnlyList<TensorView> Sources { get; }

    public long ElementCount => Parameter.ElementCount;

    /// <summary>
    /// The dtype the checkpoint stores this parameter in: BFloat16 or Float16 when every source is, else Float32
    /// (which holds all of them exactly).
    /// </summary>
    public DType CheckpointDType => Sources.All(s => s.DType == SafetensorsDType.BFloat16) ? DType.BFloat16
        : Sources.All(s => s.DType == SafetensorsDType.Float16) ? DType.Float16 : DType.Float32;

    public void WriteBFloat16(Span<ushort> destination) => CopyTo(MemoryMarshal.AsBytes(destination), DType.BFloat16);

    public void WriteFloat32(Span<float> destination) => CopyTo(MemoryMarshal.AsBytes(destination), DType.Float32);

    public bool TryGetStored(DType dtype, out ReadOnlySpan<byte> bytes)
    {
        bool stored = Sources.Count == 1 && CheckpointDType == dtype && Sources[0].ByteLength <= int.MaxValue;
        bytes = stored ? Sources[0].Bytes : default;
        return stored;
    }

    /// <summary>Writes the whole parameter into <paramref name="destination"/>, which must hold exactly that many elements of <paramref name="dtype"/>.</summary>
    public void CopyTo(Span<byte> destination, DType dtype)
    {
        if (destination.Length != ElementCount * ElementSize(dtype))
        {
            throw new ArgumentException($"{Parameter.Name} is {ElementCount * ElementSize(dtype)} bytes of {dtype}, not {destination.Length}.", nameof(destination));
        }
        CopyTo(0, destination, dtype);
    }

    /// <summary>
    /// Writes elements <paramref name="firstElement"/> onwards of the stacked parameter, as many as fill
    /// <paramref name="destination"/>, as <paramref name="dtype"/>: a backend can stage a large weight in pieces.
    /// </summary>
    public void CopyTo(long firstElement, Span<byte> destination, DType dtype)
    {
        int size = ElementSize(dtype);
        if (destination.Length % size != 0) throw new ArgumentException($"The destination is not a whole number of {dtype} elements.", nameof(destination));
        long count = destination.Length / size;
        ArgumentOutOfRangeException.ThrowIfNegative(firstElement);
        if (firstElement > ElementCount - count)
        {
            throw new ArgumentOutOfRangeException(nameof(firstElement), $"Elements [{firstElement}, {firstElement + count}) are outside the {ElementCount} of {Parameter.Name}.");
        }

        long sourceStart = 0;
        foreach (TensorView source in Sources)
        {
            long sourceEnd = sourceStart + source.ElementCount;
            long from = Math.Max(sourceStart, firstElement);
            long to = Math.Min(sourceEnd, firstElement + count);
            int sourceSize = source.DType.Size();
            while (from < to)
            {
                int n = (int)Math.Min(to - from, ChunkElements);
                ReadOnlySpan<byte> input = source.Slice((from - sourceStart) * sourceSize, n * sourceSize);
                Convert(input, source.DType, destination.Slice((int)(from - firstElement) * size, n * size), dtype);
                from += n;
            }
            sourceStart = sourceEnd;
        }
    }

    private static int ElementSize(DType dtype) => dtype switch
    {
        DType.BFloat16 or DType.Float16 => 2,
        DType.Float32 => 4,
        _ => throw new ArgumentException($"Weights are stored as BFloat16, Float16 or Float32, not {dtype}.", nameof(dtype)),
    };

    private static void Convert(ReadOnlySpan<byte> input, SafetensorsDType from, Span<byte> output, DType to)
    {
        switch (from, to)
        {
            case (SafetensorsDType.BFloat16, DType.BFloat16):
            case (SafetensorsDType.Float16, DType.Float16):
            case (SafetensorsDType.Float32, DType.Float32):
                input.CopyTo(output);
                break;
            case (SafetensorsDType.BFloat16, DType.Float32):
                BFloat16.ToSingle(MemoryMarshal.Cast<byte, ushort>(input), MemoryMarshal.Cast<byte, float>(output));
                break;
            case (SafetensorsDType.Float32, DType.BFloat16):
                BFloat16.FromSingle(MemoryMarshal.Cast<byte, float>(input), MemoryMarshal.Cast<byte, ushort>(output));
                break;
            default:
                // The rare mixed cases go through float32, which holds every BF16 and F16 value exactly.
                ConvertThroughSingle(input, from, output, to);
                break;
        }
    }

    private static void ConvertThroughSingle(ReadOnlySpan<byte> input, SafetensorsDType from, Span<byte> output, DType to)
    {
        ReadOnlySpan<ushort> halves = MemoryMarshal.Cast<byte, ushort>(input);
        ReadOnlySpan<float> singles = MemoryMarshal.Cast<byte, float>(input);
        Span<ushort> outHalves = MemoryMarshal.Cast<byte, ushort>(output);
        Span<float> outSingles = MemoryMarshal.Cast<byte, float>(output);
        int n = output.Length / (to == DType.Float32 ? 4 : 2);
        for (int i = 0; i < n; i++)
        {
            float value = from switch
            {
                SafetensorsDType.BFloat16 => BFloat16.ToSingle(halves[i]),
                SafetensorsDType.Float16 => (float)BitConverter.UInt16BitsToHalf(halves[i]),
                _ => singles[i],
            };
            switch (to)
            {
                case DType.BFloat16: outHalves[i] = BFloat16.FromSingle(value); break;
                case DType.Float16: outHalves[i] = BitConverter.HalfToUInt16Bits((Half)value); break;
                default: outSingles[i] = value; break;
            }
        }
    }
}
