namespace Specialized.Text;

/// <summary>
/// GPT-2's byte-level alphabet, which Qwen's vocabulary is written in: every byte is one printable character, so a
/// token string maps back to the exact UTF-8 bytes it stands for (a space is "Ġ", a newline "Ċ").
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly Dictionary<char, byte> ByteOfChar = BuildByteOfChar();

    /// <summary>
    /// The bytes a vocabulary or added token stands for. As Hugging Face's ByteLevel decoder does, a token with a
    /// character outside the alphabet is taken as its own UTF-8 text.
    /// </summary>
    public static byte[] TokenBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!ByteOfChar.TryGetValue(token[i], out bytes[i])) return System.Text.Encoding.UTF8.GetBytes(token);
        }
        return bytes;
    }

    // Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, NBSP, soft hyphen) are moved
    // to U+0100 and up, in byte order.
    private static Dictionary<char, byte> BuildByteOfChar()
    {
        var map = new Dictionary<char, byte>(256);
        int moved = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
            map[printable ? (char)b : (char)(256 + moved++)] = (byte)b;
        }
        return map;
    }
}
