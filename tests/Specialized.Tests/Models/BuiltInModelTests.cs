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

        // Token ids and attention windows, derived here from the JSON as Qwen2Config does, not by the shared parser.
        var spec = (ModelSpec)type.GetProperty("Spec")!.GetValue(null)!;
        int? bos = json.TryGetProperty("bos_token_id", out JsonElement b) ? b.ValueKind switch
        {
            JsonValueKind.Number => b.GetInt32(),
            JsonValueKind.Array when b.GetArrayLength() > 0 => b[0].GetInt32(),
            _ => null,
        } : null;
        int[] eos = json.TryGetProperty("eos_token_id", out JsonElement e) ? e.ValueKind switch
        {
            JsonValueKind.Number => [e.GetInt32()],
            JsonValueKind.Array => [.. e.EnumerateArray().Select(id => id.GetInt32())],
            _ => [],
        } : [];
        int[] windows = SlidingWindowsOf(json);
        Assert.Equal(bos, type.GetProperty("BosTokenId")!.GetValue(null));
        Assert.Equal(bos, spec.BosTokenId);
        Assert.Equal(eos, Span(type, "EosTokenIds"));
        Assert.Equal(eos, spec.EosTokenIds);
        Assert.Equal(windows, Span(type, "SlidingWindows"));
        Assert.Equal(windows, spec.SlidingWindows);

        // The dims struct the kernels see carries the same numbers as literals.
        var dims = (IQwen2Dims)Activator.CreateInstance(type.GetNestedType("Dims")!)!;
        Assert.Equal(json.GetProperty("hidden_size").GetInt32(), dims.HiddenSize);
        Assert.Equal(json.GetProperty("num_hidden_layers").GetInt32(), dims.NumLayers);
        Assert.Equal((float)json.GetProperty("rms_norm_eps").GetDouble(), dims.RmsNormEps);

        // The registry finds the model for this config, and the runtime's reading of the file equals the build's.
        BuiltInModels.Register();
        ModelSpec loaded = ModelConfig.Load(Path.Combine(RepoPaths.Models, folder));
        Assert.Equal(spec, loaded);
        ModelDescriptor found = Assert.IsAssignableFrom<ModelDescriptor>(ModelRegistry.Find(loaded));
        Assert.Equal(type, found.GetType().DeclaringType);
    }

    /// <summary>
    /// Qwen2Config's rule: with use_sliding_window and a sliding_window, the layers layer_types calls
    /// "sliding_attention" (older files: the layers from max_window_layers on, 28 by default) see that many tokens.
    /// </summary>
    private static int[] SlidingWindowsOf(JsonElement json)
    {
        int layers = json.GetProperty("num_hidden_layers").GetInt32();
        bool enabled = json.TryGetProperty("use_sliding_window", out JsonElement use) && use.ValueKind == JsonValueKind.True;
        int? window = json.TryGetProperty("sliding_window", out JsonElement w) && w.ValueKind == JsonValueKind.Number ? w.GetInt32() : null;
        int maxWindowLayers = json.TryGetProperty("max_window_layers", out JsonElement m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : 28;
        string?[]? types = json.TryGetProperty("layer_types", out JsonElement t) && t.ValueKind == JsonValueKind.Array
            ? [.. t.EnumerateArray().Select(x => x.GetString())]
            : null;
        return [.. Enumerable.Range(0, layers).Select(i =>
            enabled && window is int size && (types is null ? i >= maxWindowLayers : types[i] == "sliding_attention") ? size : 0)];
    }

    private delegate ReadOnlySpan<int> SpanProperty();

    /// <summary>A static <c>ReadOnlySpan&lt;int&gt;</c> property: reflection cannot box a span, a delegate can return one.</summary>
    private static int[] Span(Type type, string name) =>
        ((SpanProperty)Delegate.CreateDelegate(typeof(SpanProperty), type.GetProperty(name)!.GetMethod!))().ToArray();

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
