using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Specialized.Models;

namespace Specialized.Generators;

/// <summary>The Roslyn descriptors of the SPEC diagnostics; messages come from the shared config parser.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Specialized";

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = new()
    {
        [ConfigDiagnosticIds.MalformedJson] = Error(ConfigDiagnosticIds.MalformedJson, "config.json is not valid JSON"),
        [ConfigDiagnosticIds.MissingKey] = Error(ConfigDiagnosticIds.MissingKey, "config.json lacks a required key"),
        [ConfigDiagnosticIds.WrongType] = Error(ConfigDiagnosticIds.WrongType, "A config.json value has the wrong type"),
        [ConfigDiagnosticIds.UnsupportedArchitecture] = Error(ConfigDiagnosticIds.UnsupportedArchitecture, "Unsupported model architecture"),
        [ConfigDiagnosticIds.UnsupportedActivation] = Error(ConfigDiagnosticIds.UnsupportedActivation, "Unsupported activation"),
        [ConfigDiagnosticIds.UnsupportedRopeScaling] = Error(ConfigDiagnosticIds.UnsupportedRopeScaling, "Unsupported rope scaling"),
        [ConfigDiagnosticIds.InconsistentDimensions] = Error(ConfigDiagnosticIds.InconsistentDimensions, "Inconsistent model dimensions"),
        [ConfigDiagnosticIds.ValueOutOfRange] = Error(ConfigDiagnosticIds.ValueOutOfRange, "A config.json value is out of range"),
        [ConfigDiagnosticIds.DuplicateModelName] = Error(ConfigDiagnosticIds.DuplicateModelName, "Two models would get the same type name"),
        [ConfigDiagnosticIds.InvalidModelName] = Error(ConfigDiagnosticIds.InvalidModelName, "Invalid type or namespace name for a model"),
        [ConfigDiagnosticIds.InternalError] = Error(ConfigDiagnosticIds.InternalError, "The model generator failed"),
    };

    public static DiagnosticDescriptor For(string id) => s_byId[id];

    public static IEnumerable<DiagnosticDescriptor> All => s_byId.Values;

    private static DiagnosticDescriptor Error(string id, string title) =>
        new(id, title, "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
