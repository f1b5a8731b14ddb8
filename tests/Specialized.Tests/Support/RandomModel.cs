using Specialized.Backends;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Tests.Support;

/// <summary>
/// Random bf16-valued weights for a model's HF tensors, kept on the host so a test can both bind them to a backend and
/// run an independent reference on the same numbers.
/// </summary>
internal sealed class RandomModel
{
    public RandomModel(ModelSpec spec, int seed)
    {
        Spec = spec;
        var rng = new Random(seed);
        foreach (Parameter p in new GenericQwen2Model(spec).Weights.Parameters)
        {
            foreach (HfTensor t in p.Sources)
            {
                var values = new float[t.Shape.Aggregate(1, (a, b) => a * b)];
                bool isNorm = t.Name.EndsWith("layernorm.weight", StringComparison.Ordinal) || t.Name == "model.norm.weight";
                double std = t.Name.Contains("embed_tokens") ? 0.5 : t.Shape.Length == 1 ? 0.1 : 1.0 / Math.Sqrt(t.Shape[1]);
                for (int i = 0; i < values.Length; i++)
                {
                    double v = Gaussian(rng) * std + (isNorm ? 1.0 : 0.0);
                    values[i] = RoundToBf16((float)v);
                }
                Tensors[t.Name] = values;
            }
        }
        if (spec.TieWordEmbeddings) Tensors["lm_head.weight"] = Tensors["model.embed_tokens.weight"];
    }

    public ModelSpec Spec { get; }

    /// <summary>HF tensor name -> values (already representable in bf16).</summary>
    public Dictionary<string, float[]> Tensors { get; } = [];

    /// <summary>Binds every parameter of <paramref name="tree"/> to a backend copy of these values.</summary>
    public void Bind(IWeightTree tree, IBackend backend)
    {
        foreach (Parameter p in tree.Parameters)
        {
            p.Bind(backend.CreateWeight(p, DType.BFloat16, new Source(this, p)));
        }
    }

    /// <summary>A runner for the generated or generic model of this spec, with weights bound (on the CPU backend by default).</summary>
    public ModelRunner<TDims> Runner<TDims>(IQwen2Model<TDims> model, RunnerOptions options, IBackend? backend = null)
        where TDims : struct, IQwen2Dims
    {
        backend ??= new Specialized.Backends.Cpu.CpuBackend();
        Bind(model.Weights, backend);
        return new ModelRunner<TDims>(model, backend, options, isSpecialized: typeof(TDims) != typeof(RuntimeDims));
    }

    public static float RoundToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000);
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private sealed class Source(RandomModel model, Parameter parameter) : IWeightSource
    {
        public void WriteFloat32(Span<float> destination)
        {
            int offset = 0;
            foreach (HfTensor t in parameter.Sources)
            {
                float[] v = model.Tensors[t.Name];
                v.CopyTo(destination[offset..]);
                offset += v.Length;
            }
        }

        public void WriteBFloat16(Span<ushort> destination)
        {
            var f = new float[destination.Length];
            WriteFloat32(f);
            for (int i = 0; i < f.Length; i++) destination[i] = (ushort)(BitConverter.SingleToUInt32Bits(f[i]) >> 16);
        }
    }
}
