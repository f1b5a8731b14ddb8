namespace Specialized.Weights;

/// <summary>
/// A checkpoint that cannot be loaded: a damaged or malformed safetensors file, a bad shard index, or tensors
/// that do not fit the model (missing, wrong shape, unsupported dtype). It is the one exception the readers and
/// the binder raise for a bad checkpoint; the message names the file and, where there is one, the tensor.
/// </summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string file, string? tensor, string problem, Exception? inner = null)
        : base(Format(file, tensor, problem), inner)
    {
        File = file;
        Tensor = tensor;
        Problem = problem;
    }

    /// <summary>The file at fault: a .safetensors file, the shard index, or the checkpoint folder.</summary>
    public string File { get; }

    /// <summary>The tensor at fault, or null when the problem is with the file as a whole.</summary>
    public string? Tensor { get; }

    /// <summary>What is wrong, without the file and tensor.</summary>
    public string Problem { get; }

    private static string Format(string file, string? tensor, string problem) =>
        tensor is null ? $"{file}: {problem}" : $"{file}: tensor '{tensor}': {problem}";
}

/// <summary>Something in a checkpoint that loading ignores, such as a tensor the model has no use for.</summary>
public sealed record CheckpointWarning(string File, string Tensor, string Message)
{
    public override string ToString() => $"{File}: tensor '{Tensor}': {Message}";
}
