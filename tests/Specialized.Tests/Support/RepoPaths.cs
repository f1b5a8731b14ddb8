namespace Specialized.Tests.Support;

/// <summary>Finds files of the repository from a test's output folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "models");

    public static string TestSource => Path.Combine(Root, "tests", "Specialized.Tests");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Specialized.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Specialized.sln not found above " + AppContext.BaseDirectory);
    }
}
