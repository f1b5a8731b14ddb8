using System;
using System.Collections.Generic;

namespace Specialized.Models;

/// <summary>
/// Reads a Qwen2 config.json into a <see cref="ModelSpec"/>. Accepts the files written by transformers 4.x
/// (<c>torch_dtype</c>, <c>rope_theta</c>, <c>rope_scaling</c>) and by 5.x (<c>dtype</c>, <c>rope_parameters</c>,
/// <c>layer_types</c>, null token ids). Missing optional keys take Qwen2Config's defaults; unknown keys are ignored.
/// Never throws: every problem becomes a <see cref="ConfigDiagnostic"/> located in the file.
/// </summary>
public sealed class ConfigParser
{
    public const string SupportedModelType = "qwen2";
    public const string SupportedArchitecture = "Qwen2ForCausalLM";

    // Upper bounds on the sizes, far above every published Qwen2 model (the largest, Qwen2-72B, has hidden 8192,
    // intermediate 29568, 80 layers, 64 heads of 128, vocabulary 152064 and 131072 positions). They keep the
    // build finite (the generator writes code per layer) and the products of sizes checked in Read within a long.
    public const int MaxVocabSize = 1 << 21;
    public const int MaxHiddenSize = 1 << 16;
    public const int MaxIntermediateSize = 1 << 18;
    public const int MaxLayers = 1024;
    public const int MaxHeads = 1024;
    public const int MaxHeadDim = 1024;
    public const int MaxPositionEmbeddings = 1 << 24;

    /// <summary>The most elements one weight tensor may have: the kernels index tensors with 32-bit offsets.</summary>
    public const long MaxTensorElements = int.MaxValue;

    private readonly List<ConfigDiagnostic> _diagnostics = new();
    private readonly JsonObject _root;

    private ConfigParser(JsonObject root) => _root = root;

    public static ConfigParseResult Parse(string text)
    {
        JsonNode node;
        try
        {
            node = JsonReader.Parse(text);
        }
        catch (JsonSyntaxException e)
        {
            return Failed(new ConfigDiagnostic(ConfigDiagnosticIds.MalformedJson,
                $"config.json is not valid JSON: {e.Message} at line {e.Position.Line}, column {e.Position.Column}", e.Position));
        }

        if (node is not JsonObject root)
        {
            return Failed(new ConfigDiagnostic(ConfigDiagnosticIds.WrongType,
                $"config.json must hold a JSON object, not {Article(node.Kind)}", node.Position));
        }

        try
        {
            var parser = new ConfigParser(root);
            ModelSpec? spec = parser.Read();
            return new ConfigParseResult(parser._diagnostics.Count == 0 ? spec : null,
                new EquatableArray<ConfigDiagnostic>(parser._diagnostics.ToArray()));
        }
        catch (Exception e)
        {
            return Failed(new ConfigDiagnostic(ConfigDiagnosticIds.InternalError,
                $"internal error while reading config.json: {e.GetType().Name}: {e.Message}", root.Position));
        }
    }

    private static ConfigParseResult Failed(ConfigDiagnostic diagnostic) =>
        new(null, new EquatableArray<ConfigDiagnostic>(new[] { diagnostic }));

    private ModelSpec? Read()
    {
        string modelType = ReadModelType();
        string architecture = ReadArchitecture();

        int vocab = RequiredSize("vocab_size", MaxVocabSize);
        int hidden = RequiredSize("hidden_size", MaxHiddenSize);
        int intermediate = RequiredSize("intermediate_size", MaxIntermediateSize);
        int layers = RequiredSize("num_hidden_layers", MaxLayers);
        int heads = RequiredSize("num_attention_heads", MaxHeads);
        int kvHeads = OptionalSize("num_key_value_heads", MaxHeads) ?? heads;
        int maxPositions = OptionalSize("max_position_embeddings", MaxPositionEmbeddings) ?? 32768;
        int? explicitHeadDim = OptionalSize("head_dim", MaxHeadDim);

        int headDim = explicitHeadDim ?? 0;
        if (hidden > 0 && heads > 0 && explicitHeadDim is null)
        {
            if (hidden % heads != 0)
            {
                Report(ConfigDiagnosticIds.InconsistentDimensions,
                    $"hidden_size ({hidden}) is not divisible by num_attention_heads ({heads}); set head_dim or fix the sizes",
                    PositionOf("num_attention_heads"));
            }
            else headDim = hidden / heads;
        }
        if (heads > 0 && kvHeads > 0 && heads % kvHeads != 0)
        {
            Report(ConfigDiagnosticIds.InconsistentDimensions,
                $"num_attention_heads ({heads}) is not divisible by num_key_value_heads ({kvHeads})",
                PositionOf("num_key_value_heads"));
        }
        if (headDim % 2 != 0)
        {
            Report(ConfigDiagnosticIds.InconsistentDimensions,
                $"head_dim ({headDim}) must be even for rotary embeddings",
                PositionOf(explicitHeadDim is null ? "num_attention_heads" : "head_dim"));
        }
        if (vocab > 0 && hidden > 0 && intermediate > 0 && heads > 0 && kvHeads > 0 && headDim > 0)
        {
            CheckTensorSize("vocab_size", "the embedding matrix (vocab_size x hidden_size)", (long)vocab * hidden);
            CheckTensorSize(explicitHeadDim is null ? "num_attention_heads" : "head_dim",
                "the fused q/k/v projection ((num_attention_heads + 2 x num_key_value_heads) x head_dim x hidden_size)",
                (long)(heads + 2 * kvHeads) * headDim * hidden);
            CheckTensorSize("intermediate_size", "the fused gate/up projection (2 x intermediate_size x hidden_size)",
                2L * intermediate * hidden);
        }

        string act = OptionalString("hidden_act") ?? "silu";
        if (act != "silu")
        {
            Report(ConfigDiagnosticIds.UnsupportedActivation,
                $"hidden_act \"{act}\" is not supported; Qwen2 uses \"silu\"", ValuePosition("hidden_act"));
        }

        double eps = OptionalNumber("rms_norm_eps") ?? 1e-6;
        if (!(eps > 0) || eps >= 1)
        {
            Report(ConfigDiagnosticIds.ValueOutOfRange, $"rms_norm_eps ({ModelSpec.Real(eps)}) must be in (0, 1)", ValuePosition("rms_norm_eps"));
        }

        ReadRope(out double theta, out string scalingType, out double scalingFactor);

        bool tied = OptionalBool("tie_word_embeddings") ?? false;
        string dtype = OptionalString("torch_dtype") ?? OptionalString("dtype") ?? "float32";
        int[] windows = ReadSlidingWindows(layers);
        // A list is accepted as for eos_token_id, but a sequence starts with one token: the first is the BOS.
        int[] bosIds = ReadTokenIds("bos_token_id");
        int? bos = bosIds.Length > 0 ? bosIds[0] : null;
        int[] eos = ReadTokenIds("eos_token_id");

        return new ModelSpec(modelType, architecture, vocab, hidden, intermediate, layers, heads, kvHeads, headDim,
            maxPositions, theta, scalingType, scalingFactor, eps, tied, dtype,
            new EquatableArray<int>(windows), bos, new EquatableArray<int>(eos), act);
    }

    private string ReadModelType()
    {
        JsonMember? member = _root.Find("model_type");
        if (member is null)
        {
            Report(ConfigDiagnosticIds.MissingKey, "required key \"model_type\" is missing (expected \"qwen2\")", _root.Position);
            return SupportedModelType;
        }
        if (member.Value is not JsonString s)
        {
            WrongType(member, "a string");
            return SupportedModelType;
        }
        if (s.Value != SupportedModelType)
        {
            Report(ConfigDiagnosticIds.UnsupportedArchitecture,
                $"model_type \"{s.Value}\" is not supported; this generator specializes \"{SupportedModelType}\" models", s.Position);
        }
        return s.Value;
    }

    private string ReadArchitecture()
    {
        JsonMember? member = _root.Find("architectures");
        if (member is null || member.Value is JsonNull) return SupportedArchitecture;
        if (member.Value is not JsonArray array)
        {
            WrongType(member, "an array of strings");
            return SupportedArchitecture;
        }
        var names = new List<string>();
        foreach (JsonNode item in array.Items)
        {
            if (item is JsonString s) names.Add(s.Value);
            else Report(ConfigDiagnosticIds.WrongType, $"architectures must hold strings, not {Article(item.Kind)}", item.Position);
        }
        if (names.Count > 0 && !names.Contains(SupportedArchitecture))
        {
            Report(ConfigDiagnosticIds.UnsupportedArchitecture,
                $"architectures [{string.Join(", ", names)}] is not supported; expected \"{SupportedArchitecture}\"", array.Position);
        }
        return SupportedArchitecture;
    }

    private void ReadRope(out double theta, out string scalingType, out double scalingFactor)
    {
        theta = 10000.0;
        scalingType = "none";
        scalingFactor = 1.0;

        // transformers 5 writes {"rope_parameters": {"rope_theta": ..., "rope_type": "default", ...}}.
        JsonMember? parameters = _root.Find("rope_parameters");
        JsonObject? ropeParameters = null;
        if (parameters is not null && parameters.Value is not JsonNull)
        {
            if (parameters.Value is JsonObject obj) ropeParameters = obj;
            else WrongType(parameters, "an object");
        }

        JsonMember? thetaMember = ropeParameters?.Find("rope_theta") ?? _root.Find("rope_theta");
        if (thetaMember is not null && thetaMember.Value is not JsonNull && FiniteNumber(thetaMember) is double value)
        {
            theta = value;
            if (!(theta > 0))
            {
                Report(ConfigDiagnosticIds.ValueOutOfRange, $"rope_theta ({ModelSpec.Real(theta)}) must be positive", thetaMember.Value.Position);
            }
        }

        JsonObject? scaling = ropeParameters;
        JsonMember? scalingMember = _root.Find("rope_scaling");
        if (scalingMember is not null && scalingMember.Value is not JsonNull)
        {
            if (scalingMember.Value is JsonObject obj) scaling = obj;
            else WrongType(scalingMember, "an object or null");
        }
        if (scaling is null) return;

        JsonMember? typeMember = scaling.Find("rope_type") ?? scaling.Find("type");
        string type = typeMember?.Value is JsonString t ? t.Value : "default";
        if (type == "default") return;
        if (type == "linear")
        {
            JsonMember? factor = scaling.Find("factor");
            if (factor?.Value is JsonNumber)
            {
                if (FiniteNumber(factor) is not double f) return;
                if (f >= 1.0)
                {
                    scalingType = "linear";
                    scalingFactor = f;
                    return;
                }
            }
            Report(ConfigDiagnosticIds.UnsupportedRopeScaling, "linear rope scaling needs a numeric \"factor\" of at least 1",
                factor?.Value.Position ?? scaling.Position);
            return;
        }
        Report(ConfigDiagnosticIds.UnsupportedRopeScaling,
            $"rope scaling \"{type}\" is not supported; supported: none, \"default\", \"linear\"", typeMember?.Value.Position ?? scaling.Position);
    }

    /// <summary>
    /// The attention window of each layer, 0 meaning full causal attention. Follows Qwen2Config: with
    /// use_sliding_window, layers listed as "sliding_attention" in layer_types (or, in older files, layers at
    /// or above max_window_layers) attend to the last sliding_window tokens.
    /// </summary>
    private int[] ReadSlidingWindows(int layers)
    {
        int count = Math.Max(layers, 0);
        var windows = new int[count];
        bool useSliding = OptionalBool("use_sliding_window") ?? false;
        int? slidingWindow = OptionalSize("sliding_window", int.MaxValue);
        int maxWindowLayers = OptionalInt("max_window_layers") ?? 28;

        JsonMember? typesMember = _root.Find("layer_types");
        string[]? types = null;
        if (typesMember is not null && typesMember.Value is not JsonNull)
        {
            if (typesMember.Value is not JsonArray array)
            {
                WrongType(typesMember, "an array of strings");
            }
            // With num_hidden_layers itself invalid (count 0), that is the one error to report.
            else if (count > 0 && array.Items.Count != count)
            {
                Report(ConfigDiagnosticIds.InconsistentDimensions,
                    $"layer_types has {array.Items.Count} entries but num_hidden_layers is {count}", array.Position);
            }
            else
            {
                types = new string[count];
                for (int i = 0; i < count; i++)
                {
                    JsonNode item = array.Items[i];
                    if (item is JsonString s && (s.Value == "full_attention" || s.Value == "sliding_attention")) types[i] = s.Value;
                    else Report(ConfigDiagnosticIds.WrongType,
                        "layer_types entries must be \"full_attention\" or \"sliding_attention\"", item.Position);
                }
            }
        }

        if (!useSliding || slidingWindow is null) return windows;
        for (int i = 0; i < count; i++)
        {
            bool sliding = types is not null ? types[i] == "sliding_attention" : i >= maxWindowLayers;
            windows[i] = sliding ? slidingWindow.Value : 0;
        }
        return windows;
    }

    private int[] ReadTokenIds(string key)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return Array.Empty<int>();
        if (member.Value is JsonNumber n && n.IsInteger) return Int32Of(key, n) is int single ? new[] { single } : Array.Empty<int>();
        if (member.Value is JsonArray array)
        {
            var ids = new List<int>();
            foreach (JsonNode item in array.Items)
            {
                if (item is JsonNumber m && m.IsInteger)
                {
                    if (Int32Of(key, m) is int id) ids.Add(id);
                }
                else Report(ConfigDiagnosticIds.WrongType, $"{key} entries must be integers", item.Position);
            }
            return ids.ToArray();
        }
        WrongType(member, "an integer or a list of integers");
        return Array.Empty<int>();
    }

    private int RequiredSize(string key, int max)
    {
        if (_root.Find(key) is null)
        {
            Report(ConfigDiagnosticIds.MissingKey, $"required key \"{key}\" is missing", _root.Position);
            return 0;
        }
        return OptionalSize(key, max) ?? 0;
    }

    /// <summary>A count or width: non-positive is an inconsistent dimension (SPEC007), above <paramref name="max"/> out of range (SPEC008).</summary>
    private int? OptionalSize(string key, int max)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return null;
        if (member.Value is not JsonNumber n || !n.IsInteger)
        {
            WrongType(member, "an integer");
            return null;
        }
        bool fits = n.TryGetInt32(out int value);
        if (fits ? value <= 0 : n.Text[0] == '-')
        {
            Report(ConfigDiagnosticIds.InconsistentDimensions, $"{key} must be positive, not {n.Text}", n.Position);
            return null;
        }
        if (!fits || value > max)
        {
            Report(ConfigDiagnosticIds.ValueOutOfRange, $"{key} ({n.Text}) is above the limit of {max}", n.Position);
            return null;
        }
        return value;
    }

    private void CheckTensorSize(string key, string tensor, long elements)
    {
        if (elements <= MaxTensorElements) return;
        Report(ConfigDiagnosticIds.ValueOutOfRange,
            $"{tensor} would have {elements} elements, above the limit of {MaxTensorElements} for one tensor", ValuePosition(key));
    }

    private int? OptionalInt(string key)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return null;
        if (member.Value is JsonNumber n && n.IsInteger) return Int32Of(key, n);
        WrongType(member, "an integer");
        return null;
    }

    /// <summary>An integer literal too long for an int is out of range rather than of the wrong type.</summary>
    private int? Int32Of(string key, JsonNumber n)
    {
        if (n.TryGetInt32(out int value)) return value;
        Report(ConfigDiagnosticIds.ValueOutOfRange, $"{key} ({n.Text}) is outside the range of a 32-bit integer", n.Position);
        return null;
    }

    private double? OptionalNumber(string key)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return null;
        return FiniteNumber(member);
    }

    /// <summary>A number; one beyond double's range would reach the emitted code as infinity, which is no C# literal.</summary>
    private double? FiniteNumber(JsonMember member)
    {
        if (member.Value is not JsonNumber n)
        {
            WrongType(member, "a number");
            return null;
        }
        if (n.TryGetFiniteDouble(out double value)) return value;
        Report(ConfigDiagnosticIds.ValueOutOfRange, $"{member.Key} ({n.Text}) is not a finite number", n.Position);
        return null;
    }

    private bool? OptionalBool(string key)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return null;
        if (member.Value is JsonBool b) return b.Value;
        WrongType(member, "true or false");
        return null;
    }

    private string? OptionalString(string key)
    {
        JsonMember? member = _root.Find(key);
        if (member is null || member.Value is JsonNull) return null;
        if (member.Value is JsonString s) return s.Value;
        WrongType(member, "a string");
        return null;
    }

    private void WrongType(JsonMember member, string expected)
    {
        string found = member.Value is JsonNumber n ? $"the number {n.Text}" : Article(member.Value.Kind);
        Report(ConfigDiagnosticIds.WrongType, $"\"{member.Key}\" must be {expected}, not {found}", member.Value.Position);
    }

    private TextPosition PositionOf(string key) => _root.Find(key)?.KeyPosition ?? _root.Position;

    private TextPosition ValuePosition(string key) => _root.Find(key)?.Value.Position ?? _root.Position;

    private void Report(string id, string message, TextPosition position) =>
        _diagnostics.Add(new ConfigDiagnostic(id, message, position));

    private static string Article(string kind) => kind switch
    {
        "object" or "array" => "an " + kind,
        "null" => "null",
        _ => "a " + kind,
    };
}
