namespace Specialized.Models;

/// <summary>
/// The specialized models linked into this process. Each generated model registers itself from a module
/// initializer when its assembly loads; <see cref="Find"/> matches a checkpoint's config by fingerprint.
/// </summary>
public static class ModelRegistry
{
    private static readonly Lock s_lock = new();
    private static readonly List<ModelDescriptor> s_models = [];

    /// <summary>
    /// Loads the model assemblies next to the application (<c>Specialized.Models*.dll</c>, the convention of the
    /// model packages) and runs their module initializers, so their models register even if no code touched them.
    /// </summary>
    public static void DiscoverModelAssemblies()
    {
        foreach (string path in Directory.EnumerateFiles(AppContext.BaseDirectory, "Specialized.Models*.dll"))
        {
            var name = System.Reflection.AssemblyName.GetAssemblyName(path);
            System.Reflection.Assembly assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == name.Name)
                ?? System.Reflection.Assembly.Load(name);
            System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        }
    }

    /// <summary>
    /// Adds a generated model; called by its module initializer. The same model may come from two assemblies (the
    /// all-models Specialized.Models and a model package, both next to the app): the first registered stands for
    /// both, so the list names each model once and lookups by name stay unambiguous.
    /// </summary>
    public static void Register(ModelDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        lock (s_lock)
        {
            if (!s_models.Any(m => m.GetType() == descriptor.GetType() || (m.Name == descriptor.Name && m.Spec == descriptor.Spec)))
            {
                s_models.Add(descriptor);
            }
        }
    }

    public static IReadOnlyList<ModelDescriptor> Models
    {
        get
        {
            lock (s_lock) return s_models.ToArray();
        }
    }

    /// <summary>
    /// A specialized model whose math equals the spec's (same fingerprint), or null. A model generated from an
    /// identical config wins over one that only shares the fingerprint.
    /// </summary>
    public static ModelDescriptor? Find(ModelSpec spec)
    {
        string fingerprint = spec.Fingerprint;
        lock (s_lock)
        {
            return s_models.FirstOrDefault(m => m.Spec == spec) ?? s_models.FirstOrDefault(m => m.Fingerprint == fingerprint);
        }
    }
}
