using System.Reflection;
using System.Text.Json;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Models;

/// <summary>Every config.json under models/ was specialized, and the generated constants equal its JSON.</summary>
public sealed class BuiltInModelTests
{
    public static TheoryData<string> ConfigFolders()
    {
        var data = new TheoryData<string>();
        foreach (string dir in Directory.GetDirectories(RepoPaths.Models).Where(d => File.Exists(Path.Combine(d, "config.json"))).Order())
        {
            data.Add(Path.GetFileName(dir));
        }
        return data;
    }

    [Fact]
    public void The_repository_has_the_five_configs()
    {
        var folders = Directory.GetDirectories(RepoPaths.Models).Where(d => File.Exists(Path.Combine(d, "config.json")))
            .Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal);
        Assert.Equal(["Qwen2-0.5B", "Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B-Instruct", "Qwen2.5-7B-Instruct", "tiny"], folders);
    }

    [Theory]
    [MemberData(nameof(ConfigFolders))]
    public void Generated_constants_equal_the_json(string folder)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Models, folder, "config.json")));
        JsonElement json = doc.RootElement;
        string typeName = "Specialized.Models." + (char.ToUpperInvariant(folder[0]) + folder[1..]).Replace('.', '_').Replace('-', '_');
        Type type = typeof(BuiltInModels).Assembly.GetType(typeName) ?? throw new Xunit.Sdk.XunitException($"{typeName} was not generated");

        object? Const(string name) => type.GetField(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null);

        Assert.Equal(json.GetProperty("vocab_size").GetInt32(), Const("VocabSize"));
        Assert.Equal(json.GetProperty("hidden_size").GetInt32(), Const("HiddenSize"));
        Assert.Equal(json.GetProperty("intermediate_size").GetInt32(), Const("IntermediateSize"));
        Assert.Equal(json.GetProperty("num_hidden_layers").GetInt32(), Const("NumHiddenLayers"));
        Assert.Equal(json.GetProperty("num_attention_heads").GetInt32(), Const("NumAttentionHeads"));
        Assert.Equal(json.GetProperty("num_key_value_heads").GetInt32(), Const("NumKeyValueHeads"));
        Assert.Equal(json.GetProperty("hidden_size").GetInt32() / json.GetProperty("num_attention_heads").GetInt32(), Const("HeadDim"));
        Assert.Equal(json.GetProperty("max_position_embeddings").GetInt32(), Const("MaxPositionEmbeddings"));
        Assert.Equal(json.GetProperty("rope_theta").GetDouble(), Const("RopeTheta"));
        Assert.Equal(json.GetProperty("rms_norm_eps").GetDouble(), Const("RmsNormEps"));
        Assert.Equal(json.GetProperty("tie_word_embeddings").GetBoolean(), Const("TieWordEmbeddings"));
        Assert.Equal(json.GetProperty("hidden_act").GetString(), Const("HiddenAct"));
        Assert.Equal(json.GetProperty("torch_dtype").GetString(), Const("DType"));

        // The dims struct the kernels see carries the same numbers as literals.
        var dims = (IQwen2Dims)Activator.CreateInstance(type.GetNestedType("Dims")!)!;
        Assert.Equal(json.GetProperty("hidden_size").GetInt32(), dims.HiddenSize);
        Assert.Equal(json.GetProperty("num_hidden_layers").GetInt32(), dims.NumLayers);
        Assert.Equal((float)json.GetProperty("rms_norm_eps").GetDouble(), dims.RmsNormEps);

        // The registry finds the model for this config, and the runtime's reading of the file equals the build's.
        BuiltInModels.Register();
        ModelSpec spec = ModelConfig.Load(Path.Combine(RepoPaths.Models, folder));
        Assert.Equal(type.GetProperty("Spec")!.GetValue(null), spec);
        ModelDescriptor found = Assert.IsAssignableFrom<ModelDescriptor>(ModelRegistry.Find(spec));
        Assert.Equal(type, found.GetType().DeclaringType);
    }

    [Fact]
    public void Weight_tree_lists_every_hf_tensor_once_with_its_shape()
    {
        BuiltInModels.Register();
        ModelDescriptor model = ModelRegistry.Models.Single(m => m.Name == "Qwen2_5_7B_Instruct");
        var tree = model.Accept(new WeightTree());
        var tensors = tree.Parameters.SelectMany(p => p.Sources).ToDictionary(t => t.Name, t => t.Shape);

        // 28 layers x 12 tensors, plus embeddings, final norm and the untied lm_head.
        Assert.Equal(28 * 12 + 3, tensors.Count);
        Assert.Equal([152064, 3584], tensors["lm_head.weight"]);
        Assert.Equal([512, 3584], tensors["model.layers.27.self_attn.k_proj.weight"]);
        Assert.Equal([512], tensors["model.layers.0.self_attn.v_proj.bias"]);
        Assert.Equal([3584, 18944], tensors["model.layers.13.mlp.down_proj.weight"]);
        Assert.Equal(model.Spec.ParameterCount, tree.Parameters.Sum(p => p.ElementCount));
    }

    [Fact]
    public void Tied_models_have_no_lm_head_tensor()
    {
        BuiltInModels.Register();
        var tree = ModelRegistry.Models.Single(m => m.Name == "Qwen2_5_0_5B_Instruct").Accept(new WeightTree());
        Assert.DoesNotContain(tree.Parameters.SelectMany(p => p.Sources), t => t.Name == "lm_head.weight");
        Assert.Equal(494_032_768, tree.Parameters.Sum(p => p.ElementCount));
    }

    private sealed class WeightTree : IModelVisitor<Specialized.Weights.IWeightTree>
    {
        public Specialized.Weights.IWeightTree Visit<TDims>(IQwen2Model<TDims> model) where TDims : struct, IQwen2Dims => model.Weights;
    }
}
