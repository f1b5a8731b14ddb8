namespace Specialized.Backends;

/// <summary>
/// Kernels some of which compile in the background after they are created (<see cref="RunnerOptions.BackgroundCompile"/>):
/// steps run on slower kernels until <see cref="Compiled"/> completes.
/// </summary>
public interface IBackgroundCompilation
{
    /// <summary>Completes when the background compilation is done; faults with its failure.</summary>
    Task Compiled { get; }
}
