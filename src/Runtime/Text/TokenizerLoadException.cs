namespace Specialized.Text;

/// <summary>
/// A checkpoint's tokenizer files are missing, malformed, or describe a tokenizer this engine does not implement.
/// The message names the file and says what to change; <see cref="Path"/> is that file (or folder).
/// </summary>
public sealed class TokenizerLoadException : Exception
{
    public TokenizerLoadException(string path, string message, Exception? innerException = null)
        : base($"{path}: {message}", innerException)
    {
        Path = path;
    }

    /// <summary>The file or folder at fault.</summary>
    public string Path { get; }
}
