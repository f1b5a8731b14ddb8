using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.IO;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Specialized.Generators.Emitting;
using Specialized.Models;

namespace Specialized.Generators;

/// <summary>
/// Turns each <c>&lt;SpecializedModel Include="config.json" /&gt;</c> of a project into a typed Qwen2 model.
/// Pipeline: additional file + its metadata -> <see cref="ModelRequest"/> -> parsed <see cref="ModelInput"/>
/// (equatable, so an unrelated edit regenerates nothing) -> emitted source and diagnostics.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ModelGenerator : IIncrementalGenerator
{
    public const string DefaultNamespace = "Specialized.Models";

    /// <summary>Step names, for incremental-caching tests.</summary>
    public const string RequestsStep = "SpecializedModelRequests";
    public const string ParsedStep = "SpecializedModelsParsed";

    private const string MetadataPrefix = "build_metadata.AdditionalFiles.";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ModelRequest> requests = context.AdditionalTextsProvider
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select((pair, ct) => ToRequest(pair.Left, pair.Right.GetOptions(pair.Left), ct))
            .Where(r => r is not null)
            .Select((r, _) => r!)
            .WithTrackingName(RequestsStep);

        IncrementalValueProvider<ImmutableArray<ModelInput>> parsed = requests
            .Select((r, _) => Parse(r))
            .WithTrackingName(ParsedStep)
            .Collect();

        context.RegisterSourceOutput(parsed, Emit);
    }

    private static ModelRequest? ToRequest(AdditionalText file, AnalyzerConfigOptions options, System.Threading.CancellationToken ct)
    {
        if (!options.TryGetValue(MetadataPrefix + "SpecializedModel", out string? flag) ||
            !string.Equals(flag, "true", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        options.TryGetValue(MetadataPrefix + "TypeName", out string? typeName);
        options.TryGetValue(MetadataPrefix + "Namespace", out string? ns);
        string text = file.GetText(ct)?.ToString() ?? "";
        return new ModelRequest(file.Path, text, NullIfEmpty(typeName), NullIfEmpty(ns));
    }

    private static ModelInput Parse(ModelRequest request)
    {
        ConfigParseResult result = ConfigParser.Parse(request.Text);
        string name = request.TypeName ?? TypeNameFromPath(request.Path);
        string ns = request.Namespace ?? DefaultNamespace;
        var extra = new List<ConfigDiagnostic>();
        var top = new TextPosition(0, 0, 1, 1);
        if (!SyntaxFacts.IsValidIdentifier(name) || SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None)
        {
            extra.Add(new ConfigDiagnostic(ConfigDiagnosticIds.InvalidModelName,
                $"\"{name}\" is not a valid C# type name; set the TypeName metadata of the SpecializedModel item", top));
        }
        else if (ModelEmitter.IsReservedTypeName(name))
        {
            string origin = request.TypeName is null ? "named after the config's folder" : "given by TypeName";
            extra.Add(new ConfigDiagnostic(ConfigDiagnosticIds.InvalidModelName,
                $"the model's type cannot be called \"{name}\" ({origin}): the generated type has a member or uses a type of that name; " +
                "set the TypeName metadata of the SpecializedModel item to another name", top));
        }
        foreach (string part in ns.Split('.'))
        {
            if (!SyntaxFacts.IsValidIdentifier(part))
            {
                extra.Add(new ConfigDiagnostic(ConfigDiagnosticIds.InvalidModelName,
                    $"\"{ns}\" is not a valid namespace; fix the Namespace metadata of the SpecializedModel item", top));
                break;
            }
        }
        if (extra.Count > 0)
        {
            extra.InsertRange(0, result.Diagnostics);
            result = new ConfigParseResult(null, new EquatableArray<ConfigDiagnostic>(extra.ToArray()));
        }
        return new ModelInput(request.Path, name, ns, result);
    }

    private static void Emit(SourceProductionContext context, ImmutableArray<ModelInput> models)
    {
        var emitted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (ModelInput model in models)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            foreach (ConfigDiagnostic d in model.Result.Diagnostics)
            {
                context.ReportDiagnostic(ToDiagnostic(d, model.Path));
            }
            if (model.Result.Spec is not ModelSpec spec) continue;

            string fullName = model.Namespace + "." + model.TypeName;
            if (emitted.TryGetValue(fullName, out string? firstPath))
            {
                context.ReportDiagnostic(ToDiagnostic(new ConfigDiagnostic(ConfigDiagnosticIds.DuplicateModelName,
                    $"{fullName} is already generated from {firstPath}; give one of them its own TypeName metadata",
                    new TextPosition(0, 0, 1, 1)), model.Path));
                continue;
            }
            emitted.Add(fullName, model.Path);
            if (TryEmit(spec, model.TypeName, model.Namespace, model.Path, out string? source, out ConfigDiagnostic? error))
            {
                context.AddSource(fullName + ".g.cs", SourceText.From(source, Encoding.UTF8));
            }
            else context.ReportDiagnostic(ToDiagnostic(error, model.Path));
        }
    }

    /// <summary>
    /// The model's source, or SPEC099 naming the file. The parser lets through only specs the emitter handles, so
    /// an exception here is a bug; escaping, it would be the compiler's CS8785 warning and a build without the model.
    /// </summary>
    internal static bool TryEmit(ModelSpec spec, string typeName, string ns, string path,
        [NotNullWhen(true)] out string? source, [NotNullWhen(false)] out ConfigDiagnostic? error)
    {
        try
        {
            source = ModelEmitter.Emit(spec, typeName, ns, DisplayPath(path));
            error = null;
            return true;
        }
        catch (Exception e)
        {
            source = null;
            error = new ConfigDiagnostic(ConfigDiagnosticIds.InternalError,
                $"internal error while generating {ns}.{typeName} from {DisplayPath(path)}: {e.GetType().Name}: {e.Message}",
                new TextPosition(0, 0, 1, 1));
            return false;
        }
    }

    private static Diagnostic ToDiagnostic(ConfigDiagnostic d, string path)
    {
        var start = new LinePosition(d.Position.Line - 1, d.Position.Column - 1);
        Location location = Location.Create(path, new TextSpan(d.Position.Offset, d.Position.Length), new LinePositionSpan(start, start));
        return Diagnostic.Create(DiagnosticDescriptors.For(d.Id), location, d.Message);
    }

    /// <summary>
    /// <c>models/Qwen2.5-0.5B-Instruct/config.json</c> gives <c>Qwen2_5_0_5B_Instruct</c>; a file with no folder
    /// gives <c>Qwen2Model</c>, a name the generated type leaves free.
    /// </summary>
    internal static string TypeNameFromPath(string path)
    {
        string folder = Path.GetFileName(Path.GetDirectoryName(path) ?? "") ?? "";
        var sb = new StringBuilder();
        foreach (char c in folder)
        {
            sb.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
        }
        if (sb.Length == 0) return "Qwen2Model";
        sb[0] = char.ToUpperInvariant(sb[0]);
        if (char.IsDigit(sb[0])) sb.Insert(0, "Model");
        return sb.ToString();
    }

    /// <summary>The folder and file name, so generated text does not depend on where the repository lives.</summary>
    private static string DisplayPath(string path)
    {
        string file = Path.GetFileName(path);
        string folder = Path.GetFileName(Path.GetDirectoryName(path) ?? "") ?? "";
        return folder.Length == 0 ? file : folder + "/" + file;
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s!.Trim();
}

/// <summary>One config.json to specialize, with its text and the item's metadata.</summary>
internal sealed record ModelRequest(string Path, string Text, string? TypeName, string? Namespace);

/// <summary>The parsed form of a request: what the emitter needs, and nothing that defeats caching.</summary>
internal sealed record ModelInput(string Path, string TypeName, string Namespace, ConfigParseResult Result);
