namespace Specialized.Backends;

/// <summary>
/// Kernels that can run a whole decode step as one recorded unit (a CUDA graph) rather than launch by launch. The
/// model runner offers each step here first.
/// </summary>
public interface IDecodeStepReplay
{
    /// <summary>
    /// Runs the step that <paramref name="forward"/> launches for a batch, replaying a recording of it (recording it
    /// first when needed), and returns true; or returns false, having done nothing, when it does not serve
    /// <paramref name="batch"/>. Afterwards the workspace holds <paramref name="batch"/>'s logit rows first, as a
    /// direct run leaves them.
    /// </summary>
    bool TryRun(ForwardBatch batch, Action<ForwardBatch> forward);
}
