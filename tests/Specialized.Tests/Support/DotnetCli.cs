using System.Diagnostics;

namespace Specialized.Tests.Support;

/// <summary>Runs the <c>dotnet</c> CLI in a folder, as tests that build throwaway projects with the real SDK need.</summary>
internal static class DotnetCli
{
    private static readonly string[] MSBuildCommands = ["build", "pack", "restore"];

    /// <summary>Exit code and stdout + stderr of <c>dotnet args</c>; fails the test if it runs past five minutes.</summary>
    /// <param name="environment">Variables to set for the process, e.g. NUGET_PACKAGES.</param>
    public static (int ExitCode, string Output) Run(string workingDirectory, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        if (MSBuildCommands.Contains(args[0]))
        {
            // No lingering build servers: they would outlive the test and hold its output pipes open.
            foreach (string a in new[] { "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:q" }) start.ArgumentList.Add(a);
        }
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', args)} did not finish in 5 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
