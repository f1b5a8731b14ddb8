using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;

namespace Specialized.Kernels;

/// <summary>
/// ILGPU's PTX for each kernel, kept in a folder so that a later process loads it instead of compiling again. ILGPU
/// compiles one kernel at a time (its frontend holds a context-wide lock) and the model's kernels take it seconds, most
/// of the time to a first token that is not the GPU's; the driver keeps its own cache of the machine code it makes from
/// the PTX (CUDA_CACHE_PATH).
/// <para>
/// An entry is named by a hash of everything the PTX follows from: the kernel method with its type arguments, the
/// version ids of the modules that define them and of ILGPU's (any rebuild of the code makes new ones), the launch
/// bounds, the target architecture and instruction set, and the context's code-generation settings. Its text starts with
/// a header (the key again, the kernel's static and dynamic shared memory, a hash of the PTX), so an entry cut short or
/// damaged is compiled again and rewritten, never loaded. Entries are written whole to a temporary file and renamed, so
/// processes sharing the folder never see half of one. Failing to write one (a read-only or full disk) costs only the
/// saving. Nothing prunes the folder: entries of earlier builds stay until it is deleted.
/// </para>
/// </summary>
public sealed class PtxCache
{
    /// <summary>The environment variable that names the folder; <c>off</c> turns the cache off.</summary>
    public const string DirectoryVariable = "SPECIALIZED_KERNEL_CACHE";

    private const string Format = "specialized-ptx 1";

    public PtxCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
    }

    public string Directory { get; }

    /// <summary>
    /// <c>$SPECIALIZED_KERNEL_CACHE</c> where it is set (null where it says <c>off</c>), else <c>specialized/kernels</c>
    /// under <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c>; null where there is no home folder either.
    /// </summary>
    public static string? DefaultDirectory
    {
        get
        {
            string? set = Environment.GetEnvironmentVariable(DirectoryVariable);
            if (!string.IsNullOrEmpty(set)) return set.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : set;
            string? root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
            {
                string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                if (string.IsNullOrEmpty(home)) return null;
                root = Path.Combine(home, ".cache");
            }
            return Path.Combine(root, "specialized", "kernels");
        }
    }

    /// <summary>Whether this ILGPU lets a kernel be made from stored PTX (<see cref="PtxKernels"/>; if not, every kernel compiles).</summary>
    public static bool Supported => PtxKernels.Supported;

    /// <summary>Kernels loaded from the folder, and kernels compiled (and stored), since this cache was made.</summary>
    public int Loaded => _loaded;

    public int Compiled => _compiled;

    /// <summary>Compiled kernels that could not be stored.</summary>
    public int Unwritten => _unwritten;

    private int _loaded, _compiled, _unwritten;

    /// <summary>The kernel's PTX from the folder where an intact entry holds it; otherwise compiled by <paramref name="backend"/> and stored.</summary>
    public CompiledKernel Compile(PTXBackend backend, MethodInfo method, KernelSpecialization specialization)
    {
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
        if (!Supported) return backend.Compile(entry, specialization);
        string key = Key(backend, method, specialization);
        string path = Path.Combine(Directory, key + ".ptx");
        if (TryRead(path, key, out SharedMemorySpecification shared, out string? ptx))
        {
            var kernel = PtxKernels.Make(backend.Context, new EntryPoint(entry, shared, specialization), ptx!);
            Interlocked.Increment(ref _loaded);
            return kernel;
        }
        var compiled = (PTXCompiledKernel)backend.Compile(entry, specialization);
        Interlocked.Increment(ref _compiled);
        TryWrite(path, key, compiled);
        return compiled;
    }

    /// <summary>The entry's name: a hash of what the kernel's PTX follows from (see the class).</summary>
    public static string Key(PTXBackend backend, MethodInfo method, KernelSpecialization specialization)
    {
        var text = new StringBuilder(Format).Append('\n');
        // The modules whose code goes into the PTX: the kernel's, its type arguments', ILGPU's and its algorithms',
        // and the core library's (whose helpers ILGPU may inline).
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        void AddType(Type type)
        {
            modules.Add(type.Module.ModuleVersionId.ToString());
            if (type.IsGenericType) foreach (Type argument in type.GetGenericArguments()) AddType(argument);
            if (type.HasElementType) AddType(type.GetElementType()!);
        }
        AddType(method.DeclaringType!);
        if (method.IsGenericMethod) foreach (Type argument in method.GetGenericArguments()) AddType(argument);
        foreach (Type anchor in new[] { typeof(Context), typeof(ILGPU.Algorithms.XMath), typeof(object) }) AddType(anchor);
        text.AppendJoin(' ', modules).Append('\n');
        text.Append(method.DeclaringType!.AssemblyQualifiedName).Append("::").Append(method.Name).Append('\n');
        if (method.IsGenericMethod) text.AppendJoin('\n', method.GetGenericArguments().Select(t => t.AssemblyQualifiedName)).Append('\n');
        text.AppendJoin(',', method.GetParameters().Select(p => p.ParameterType.AssemblyQualifiedName)).Append('\n');
        text.Append($"bounds {specialization.MaxNumThreadsPerGroup} {specialization.MinNumGroupsPerMultiprocessor}\n");
        text.Append($"target {backend.Architecture} {backend.InstructionSet}\n");
        var p = backend.Context.Properties;
        text.Append($"context {p.OptimizationLevel} {p.MathMode} {p.InliningMode} {p.DebugSymbolsMode} {p.EnableAssertions} {p.EnableIOOperations} ")
            .Append($"{p.StaticFieldMode} {p.ArrayMode} {p.LibNvvmPath} {p.LibDevicePath}\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static bool TryRead(string path, string key, out SharedMemorySpecification shared, out string? ptx)
    {
        shared = default;
        ptx = null;
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        // The format, the key, the shared memory, the PTX's hash, a blank line, the PTX.
        string[] parts = text.Split('\n', 6);
        if (parts.Length < 6 || parts[0] != Format || parts[1] != $"key {key}" || parts[4].Length != 0) return false;
        string[] memory = parts[2].Split(' ');
        if (memory is not ["shared", string size, "0" or "1"] || !int.TryParse(size, out int staticSize) || staticSize < 0) return false;
        if (parts[3] != $"sha {Hash(parts[5])}") return false;
        shared = new SharedMemorySpecification(staticSize, memory[2] == "1");
        ptx = parts[5];
        return true;
    }

    private void TryWrite(string path, string key, PTXCompiledKernel kernel)
    {
        var shared = PtxKernels.EntryPointOf(kernel).SharedMemory;
        string text = $"{Format}\nkey {key}\nshared {shared.StaticSize} {(shared.HasDynamicMemory ? 1 : 0)}\nsha {Hash(kernel.PTXAssembly)}\n\n{kernel.PTXAssembly}";
        string temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllText(temporary, text, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _unwritten);
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
