using System.CommandLine;
using Specialized.Models;
using Specialized.Weights;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized inspect --model DIR</c>: reads a checkpoint's config.json with the build's rules, finds the
/// specialized model that matches it, and prints its dimensions and weight tree.
/// </summary>
internal static class InspectCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A checkpoint folder, or its config.json.",
            Required = true,
        };
        var command = new Command("inspect", "Show the specialized model that matches a checkpoint's config.json.") { model };
        command.SetAction(parse => Run(console, parse.GetValue(model)!));
        return command;
    }

    private static int Run(CliConsole console, string path)
    {
        ModelSpec spec = ModelConfig.Load(path);

        ModelDescriptor? match = ModelRegistry.Find(spec);
        console.Out.WriteLine($"config           {Path.GetFullPath(path)}");
        if (match is null)
        {
            console.Out.WriteLine("specialized as   (none: no model in this build has this fingerprint)");
        }
        else
        {
            string others = string.Join(", ", ModelRegistry.Models.Where(m => m != match && m.Fingerprint == match.Fingerprint).Select(m => m.Name));
            console.Out.WriteLine($"specialized as   {match.GetType().DeclaringType?.FullName ?? match.Name}{(others.Length > 0 ? $" (same math as {others})" : "")}");
        }
        console.Out.WriteLine($"fingerprint      {spec.FingerprintHash}  {spec.Fingerprint}");
        console.Out.WriteLine($"shape            {spec.NumHiddenLayers} layers, hidden {spec.HiddenSize}, {spec.NumAttentionHeads} query heads and " +
            $"{spec.NumKeyValueHeads} key/value heads of {spec.HeadDim}, intermediate {spec.IntermediateSize}, vocabulary {spec.VocabSize}");
        console.Out.WriteLine($"attention        rope theta {ModelSpec.Real(spec.RopeTheta)}, scaling {spec.RopeScalingType}, " +
            $"context {spec.MaxPositionEmbeddings}, {Windows(spec)}");
        console.Out.WriteLine($"norm, embeddings rms eps {ModelSpec.Real(spec.RmsNormEps)}, {(spec.TieWordEmbeddings ? "tied" : "untied")} embeddings, " +
            $"activation {spec.HiddenAct}, checkpoint dtype {spec.DType}");
        console.Out.WriteLine($"tokens           bos {spec.BosTokenId?.ToString() ?? "none"}, eos [{string.Join(", ", spec.EosTokenIds)}]");
        console.Out.WriteLine($"parameters       {spec.ParameterCount:N0} ({spec.ParameterCount * 2 / 1e9:F2} GB in bf16)");

        if (match is not null) PrintWeights(console, match);
        return 0;
    }

    private static string Windows(ModelSpec spec)
    {
        int sliding = spec.SlidingWindows.Count(w => w > 0);
        return sliding == 0 ? "full attention in every layer" : $"sliding window in {sliding} of {spec.NumHiddenLayers} layers";
    }

    private static void PrintWeights(CliConsole console, ModelDescriptor descriptor)
    {
        IWeightTree tree = descriptor.Accept(new WeightTreeOf());
        console.Out.WriteLine("weight tree      (fused parameters show the checkpoint tensors they stack)");
        foreach (Parameter p in tree.Parameters)
        {
            bool laterLayer = p.Name.StartsWith("model.layers.", StringComparison.Ordinal) && !p.Name.StartsWith("model.layers.0.", StringComparison.Ordinal);
            if (laterLayer) continue;
            console.Out.WriteLine($"  {p}");
            if (p.Sources.Count > 1)
            {
                foreach (HfTensor source in p.Sources) console.Out.WriteLine($"      {source}");
            }
        }
        if (descriptor.Spec.NumHiddenLayers > 1)
        {
            console.Out.WriteLine($"  (model.layers.1 to model.layers.{descriptor.Spec.NumHiddenLayers - 1} hold the same tensors as model.layers.0)");
        }
    }

    private sealed class WeightTreeOf : IModelVisitor<IWeightTree>
    {
        public IWeightTree Visit<TDims>(IQwen2Model<TDims> model) where TDims : struct, IQwen2Dims => model.Weights;
    }
}
