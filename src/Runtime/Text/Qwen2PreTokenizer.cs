using System.Globalization;
using System.Text;

namespace Specialized.Text;

/// <summary>
/// Qwen2's pre-tokenizer: splits text into the pieces <see cref="Pattern"/> matches, as Hugging Face tokenizers'
/// Split(Isolated) does with Oniguruma, before byte-level BPE runs on each piece.
/// </summary>
/// <remarks>
/// The pattern is matched by hand rather than with <see cref="System.Text.RegularExpressions.Regex"/>, because .NET's
/// regex classifies UTF-16 code units: a letter or digit outside the BMP (𠀀, 𝐀, 𝟎) is two surrogates of category Cs
/// there, not <c>\p{L}</c> or <c>\p{N}</c>, so pieces split elsewhere than in Hugging Face (with the regex, the
/// corpus string of mathematical digits 𝟎𝟏𝟐𝟑 gets other ids). Here every class is decided per code point, and
/// <c>\s</c> is Unicode White_Space, as in Oniguruma.
/// </remarks>
internal static class Qwen2PreTokenizer
{
    /// <summary>The Split regex of every Qwen2-family tokenizer.json; loading checks the file has exactly this one.</summary>
    public const string Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The pieces of <paramref name="text"/>, in order; together they cover it exactly.</summary>
    public static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var pieces = new List<(int, int)>(text.Length / 4 + 1);
        for (int start = 0; start < text.Length;)
        {
            int end = MatchAt(text, start);
            pieces.Add((start, end - start));
            start = end;
        }
        return pieces;
    }

    private enum CharClass { Letter, Number, Space, Other }

    // Tries the pattern's alternatives in order at `start`, as a backtracking regex does, and returns where the
    // first one that matches ends. Some alternative always matches, so the pieces cover the text.
    private static int MatchAt(ReadOnlySpan<char> text, int start)
    {
        if (MatchContraction(text, start) is int contraction) return contraction;

        (CharClass first, int afterFirst) = Read(text, start);

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (first == CharClass.Letter) return SkipRun(text, afterFirst, CharClass.Letter);
        if (first != CharClass.Number && !IsLineBreak(text[start]) && afterFirst < text.Length && Read(text, afterFirst).Class == CharClass.Letter)
        {
            return SkipRun(text, afterFirst, CharClass.Letter);
        }

        // \p{N}
        if (first == CharClass.Number) return afterFirst;

        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        int symbols = text[start] == ' ' && afterFirst < text.Length && Read(text, afterFirst).Class == CharClass.Other ? afterFirst
            : first == CharClass.Other ? start
            : -1;
        if (symbols >= 0)
        {
            int end = SkipRun(text, symbols, CharClass.Other);
            while (end < text.Length && IsLineBreak(text[end])) end++;
            return end;
        }

        // Only white space is left. Every White_Space character is in the BMP, so one char is one code point.
        int spaceEnd = SkipRun(text, start, CharClass.Space);

        // \s*[\r\n]+ : the run up to and including its last line break.
        for (int i = spaceEnd - 1; i >= start; i--)
        {
            if (IsLineBreak(text[i])) return i + 1;
        }

        // \s+(?!\S) : the whole run at the end of the text, else all of it but the last space, which goes with the
        // word after it; \s+ : a lone space before a non-space.
        if (spaceEnd == text.Length || spaceEnd - start == 1) return spaceEnd;
        return spaceEnd - 1;
    }

    // (?i:'s|'t|'re|'ve|'m|'ll|'d). Case-insensitive the way Oniguruma folds case: ſ (U+017F) folds to s.
    private static int? MatchContraction(ReadOnlySpan<char> text, int start)
    {
        if (text[start] != '\'' || start + 1 >= text.Length) return null;
        char a = Fold(text[start + 1]);
        if (a is 's' or 't' or 'm' or 'd') return start + 2;
        if (start + 2 >= text.Length) return null;
        char b = Fold(text[start + 2]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? start + 3 : null;
    }

    private static char Fold(char c) => c == 'ſ' ? 's' : c < 128 ? char.ToLowerInvariant(c) : c;

    private static bool IsLineBreak(char c) => c is '\r' or '\n';

    private static int SkipRun(ReadOnlySpan<char> text, int from, CharClass cls)
    {
        int i = from;
        while (i < text.Length)
        {
            (CharClass c, int next) = Read(text, i);
            if (c != cls) break;
            i = next;
        }
        return i;
    }

    // The class of the code point at `index` and where the next one starts. An unpaired surrogate is one Other.
    private static (CharClass Class, int Next) Read(ReadOnlySpan<char> text, int index)
    {
        if (Rune.DecodeFromUtf16(text[index..], out Rune rune, out int length) != System.Buffers.OperationStatus.Done)
        {
            return (CharClass.Other, index + 1);
        }
        return (Classify(rune), index + length);
    }

    private static CharClass Classify(Rune rune)
    {
        if (IsWhiteSpace(rune.Value)) return CharClass.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
            _ => CharClass.Other,
        };
    }

    // Unicode's White_Space property, which Oniguruma's \s matches.
    private static bool IsWhiteSpace(int c) => c is >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680
        or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;
}
