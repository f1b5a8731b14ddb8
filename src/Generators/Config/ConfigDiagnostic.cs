using System;

namespace Specialized.Models;

/// <summary>The stable ids of config.json problems, shared by the build (SPECxxx diagnostics) and the runtime.</summary>
public static class ConfigDiagnosticIds
{
    public const string MalformedJson = "SPEC001";
    public const string MissingKey = "SPEC002";
    public const string WrongType = "SPEC003";
    public const string UnsupportedArchitecture = "SPEC004";
    public const string UnsupportedActivation = "SPEC005";
    public const string UnsupportedRopeScaling = "SPEC006";
    public const string InconsistentDimensions = "SPEC007";
    public const string ValueOutOfRange = "SPEC008";
    public const string DuplicateModelName = "SPEC009";
    public const string InvalidModelName = "SPEC010";
    public const string InternalError = "SPEC099";
}

/// <summary>One problem found in a config.json, with where it is. Value-equatable, and free of Roslyn types.</summary>
public sealed record ConfigDiagnostic(string Id, string Message, TextPosition Position)
{
    /// <summary>MSBuild's canonical error format: <c>path(line,col): error SPEC003: message</c>.</summary>
    public string Format(string path) =>
        $"{path}({Position.Line},{Position.Column}): error {Id}: {Message}";
}

/// <summary>What parsing one config.json gave: a spec, or the reasons there is none.</summary>
public sealed record ConfigParseResult(ModelSpec? Spec, EquatableArray<ConfigDiagnostic> Diagnostics)
{
    public bool Succeeded => Spec is not null;
}
