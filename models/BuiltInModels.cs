using System.Runtime.CompilerServices;

namespace Specialized.Models;

/// <summary>The models specialized from <c>models/*/config.json</c>, compiled into this assembly.</summary>
public static class BuiltInModels
{
    /// <summary>
    /// Runs this assembly's module initializer, which registers every model in it with <see cref="ModelRegistry"/>.
    /// A process that never touches a type of this assembly would otherwise never load it.
    /// </summary>
    public static void Register() => RuntimeHelpers.RunModuleConstructor(typeof(BuiltInModels).Module.ModuleHandle);
}
