namespace Specialized.Sampling;

/// <summary>
/// Finds stop strings in streamed text that may span tokens, holding back text that could still become a stop string.
/// </summary>
/// <remarks>
/// <para>The first stop string to complete wins: the one whose first occurrence ends earliest in the text, the longest
/// of those ending at the same character. That is what a check after every character would find, so the result does
/// not depend on how the text was split into deltas. SGLang checks after every token and stops at the first one that
/// completes a stop string (<c>Req.check_finished</c>), then cuts the text before it; this is the same rule at
/// character rather than token granularity.</para>
/// <para>Strings are compared ordinally. One instance per sequence; not thread-safe.</para>
/// </remarks>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private readonly int _longestStop;
    private string _held = "";

    /// <exception cref="ArgumentException">A stop string is null or empty.</exception>
    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        if (stops.Any(string.IsNullOrEmpty)) throw new ArgumentException("Stop strings must be non-empty.", nameof(stops));
        _stops = [.. stops];
        _longestStop = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length);
    }

    /// <summary>
    /// Feeds newly decoded text. Returns the text that is safe to emit now (never a prefix of a possible stop string that
    /// could still complete). When a stop string completes, <see cref="Matched"/> is set to it and the returned text ends
    /// right before it (the caller appends the stop string itself if NoStopTrim); after that every call returns "".
    /// </summary>
    public string Append(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (Matched is not null) return "";
        if (_stops.Length == 0) return delta;

        string text = _held + delta;
        int matchStart = -1, matchEnd = int.MaxValue;
        foreach (string stop in _stops)
        {
            // No stop string completes inside the held text (it would have matched on an earlier call), so every
            // occurrence found here ends inside the delta.
            int start = text.IndexOf(stop, StringComparison.Ordinal);
            if (start < 0) continue;
            int end = start + stop.Length;
            if (end < matchEnd || (end == matchEnd && start < matchStart))
            {
                (matchStart, matchEnd) = (start, end);
                Matched = stop;
            }
        }
        if (Matched is not null)
        {
            _held = "";
            return text[..matchStart];
        }

        int hold = HeldBackLength(text);
        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>The stop string that ended the text, or null while none has.</summary>
    public string? Matched { get; private set; }

    /// <summary>End of stream with no match: the held-back text. Empty after a match.</summary>
    public string Flush()
    {
        string held = _held;
        _held = "";
        return held;
    }

    // The longest end of the text that some stop string starts with (and is longer than): it may still complete.
    private int HeldBackLength(string text)
    {
        for (int length = Math.Min(text.Length, _longestStop - 1); length > 0; length--)
        {
            ReadOnlySpan<char> tail = text.AsSpan(text.Length - length);
            foreach (string stop in _stops)
                if (stop.Length > length && stop.AsSpan().StartsWith(tail, StringComparison.Ordinal)) return length;
        }
        return 0;
    }
}
