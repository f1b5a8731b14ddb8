using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Specialized.Text;

/// <summary>A token of tokenizer.json's <c>added_tokens</c>: matched whole in raw text before anything else runs.</summary>
internal sealed record AddedToken(int Id, string Content, bool IsSpecial);

/// <summary>
/// Finds added tokens in raw text the way Hugging Face's added vocabulary does: the leftmost match, and of the
/// tokens that start there, the longest.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create([.. _byFirstChar.Keys]);
    }

    /// <summary>The first added token in <paramref name="text"/> at or after <paramref name="from"/>.</summary>
    public bool TryFindNext(string text, int from, out int index, [NotNullWhen(true)] out AddedToken? token)
    {
        for (int i = from; i < text.Length;)
        {
            int found = text.AsSpan(i).IndexOfAny(_firstChars);
            if (found < 0) break;
            i += found;
            foreach (AddedToken candidate in _byFirstChar[text[i]])
            {
                if (text.AsSpan(i).StartsWith(candidate.Content, StringComparison.Ordinal))
                {
                    (index, token) = (i, candidate);
                    return true;
                }
            }
            i++;
        }
        (index, token) = (-1, null);
        return false;
    }
}
