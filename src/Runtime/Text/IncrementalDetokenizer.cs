using System.Text;

namespace Specialized.Text;

/// <summary>
/// Turns a stream of token ids into text deltas for streaming. A token can end in the middle of a character (an
/// emoji or a CJK character is often split over several byte-level tokens), so the bytes of an incomplete UTF-8
/// sequence are held back until the tokens that complete it arrive: no delta has a U+FFFD that the final text would
/// not have, and the deltas of <see cref="Add"/> followed by <see cref="Flush"/> join to exactly
/// <see cref="Qwen2Tokenizer.Decode"/> of all the ids.
/// </summary>
/// <remarks>One instance per sequence; not thread-safe.</remarks>
public sealed class IncrementalDetokenizer(Qwen2Tokenizer tokenizer, bool skipSpecialTokens = false)
{
    // The bytes not yet emitted: at most an incomplete character's lead bytes plus one token.
    private readonly List<byte> _pending = [];

    /// <summary>Whether special tokens (&lt;|im_end|&gt;) are left out of the text, as in <see cref="Qwen2Tokenizer.Decode"/>.</summary>
    public bool SkipSpecialTokens { get; } = skipSpecialTokens;

    /// <summary>Adds the next token and returns the text it completes; empty while a character is still incomplete.</summary>
    public string Add(int id)
    {
        if (tokenizer.TokenBytes(id, SkipSpecialTokens) is not byte[] bytes) return "";
        _pending.AddRange(bytes);
        return Emit(CompleteLength());
    }

    /// <summary>
    /// Ends the stream: returns what is held back, with U+FFFD for an incomplete trailing character, exactly as a
    /// final decode shows it.
    /// </summary>
    public string Flush() => Emit(_pending.Count);

    // How many pending bytes decode the same now as they will whatever follows: all but a trailing prefix of a
    // well-formed UTF-8 sequence. Invalid bytes are final already (the final decode has U+FFFD for them too).
    private int CompleteLength()
    {
        ReadOnlySpan<byte> pending = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
        int complete = 0;
        while (complete < pending.Length)
        {
            if (Rune.DecodeFromUtf8(pending[complete..], out _, out int consumed) == System.Buffers.OperationStatus.NeedMoreData) break;
            complete += consumed;
        }
        return complete;
    }

    private string Emit(int count)
    {
        if (count == 0) return "";
        string text = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending)[..count]);
        _pending.RemoveRange(0, count);
        return text;
    }
}
