using Specialized.Sampling;

namespace Specialized.Tests.Sampling;

/// <summary>Stop strings across deltas: held back while they may complete, cut where they do, the first to complete wins.</summary>
public sealed class StopStringMatcherTests
{
    // Feeds the deltas and returns what was emitted, and what Flush released when nothing matched.
    private static (string Emitted, string? Matched) Run(string[] stops, params string[] deltas)
    {
        var matcher = new StopStringMatcher(stops);
        string emitted = string.Concat(deltas.Select(matcher.Append));
        return (emitted + matcher.Flush(), matcher.Matched);
    }

    [Fact]
    public void A_stop_string_spanning_deltas_is_cut_and_the_rest_is_dropped()
    {
        var matcher = new StopStringMatcher(["</answer>"]);
        Assert.Equal("42 ", matcher.Append("42 </"));
        Assert.Null(matcher.Matched);
        Assert.Equal("", matcher.Append("ans"));
        Assert.Equal("", matcher.Append("wer> and more"));
        Assert.Equal("</answer>", matcher.Matched);
        Assert.Equal("", matcher.Append("later text"));
        Assert.Equal("", matcher.Flush());
    }

    [Fact]
    public void The_result_does_not_depend_on_how_the_text_is_split()
    {
        string[] stops = ["\n\nUser:", "END", "ab"];
        const string text = "Hello there, friend.\n\nUs\n\nUser: next";
        for (int size = 1; size <= text.Length; size++)
        {
            string[] deltas = [.. text.Chunk(size).Select(c => new string(c))];
            Assert.Equal(("Hello there, friend.\n\nUs", "\n\nUser:"), Run(stops, deltas));
        }
    }

    [Fact]
    public void Of_several_stop_strings_the_first_to_complete_wins()
    {
        // "b" completes at the second character, before "abc" could.
        Assert.Equal(("a", "b"), Run(["abc", "b"], "abc"));
        // Both end at the same character: the longer one started earlier and wins.
        Assert.Equal(("x", "abc"), Run(["bc", "abc"], "xabcd"));
        // Order in the list does not matter, position in the text does.
        Assert.Equal(("one ", "two"), Run(["three", "two"], "one two three"));
        Assert.Equal(("one ", "two"), Run(["two", "three"], "one two three"));
    }

    [Fact]
    public void A_held_back_prefix_is_released_when_it_fails_to_complete()
    {
        var matcher = new StopStringMatcher(["<|stop|>"]);
        Assert.Equal("see ", matcher.Append("see <|st"));
        Assert.Equal("", matcher.Append("o"));            // "<|sto" may still complete
        Assert.Equal("<|stop!", matcher.Append("p!"));    // it did not: all of it is released
        Assert.Equal("", matcher.Flush());
        Assert.Null(matcher.Matched);

        // Only the part that may still complete stays held: "<|x <" releases "<|x " and keeps "<".
        var second = new StopStringMatcher(["<|stop|>"]);
        Assert.Equal("a ", second.Append("a <|"));
        Assert.Equal("<|x ", second.Append("x <"));
        Assert.Equal("<| done", second.Append("| done"));
        Assert.Null(second.Matched);
    }

    [Fact]
    public void A_stop_string_at_the_very_start_leaves_no_text()
    {
        Assert.Equal(("", "Hello"), Run(["Hello"], "Hello world"));
        Assert.Equal(("", "Hello"), Run(["Hello"], "He", "llo"));
    }

    [Fact]
    public void Flush_releases_held_text_when_nothing_matched()
    {
        var matcher = new StopStringMatcher(["###", "\n\n"]);
        Assert.Equal("Answer: 4", matcher.Append("Answer: 4\n"));
        Assert.Equal("", matcher.Append(""));
        Assert.Equal("\n", matcher.Flush());
        Assert.Null(matcher.Matched);
        Assert.Equal("", matcher.Flush());
    }

    [Fact]
    public void Without_stop_strings_text_passes_straight_through()
    {
        var matcher = new StopStringMatcher([]);
        Assert.Equal("anything", matcher.Append("anything"));
        Assert.Equal("", matcher.Flush());
    }

    [Fact]
    public void Empty_stop_strings_are_rejected() =>
        Assert.Throws<ArgumentException>(() => new StopStringMatcher(["ok", ""]));
}
