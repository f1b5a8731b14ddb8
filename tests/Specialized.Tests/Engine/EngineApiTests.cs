using Specialized.Text;

namespace Specialized.Tests.Engine;

/// <summary>The engine's API on text: the four modes agree, sampling reproduces, stops and limits behave as SGLang's.</summary>
public sealed class EngineApiTests : IClassFixture<TinyTextModel>, IDisposable
{
    private const string Prompt = "The quick brown fox";
    private readonly Specialized.Engine _engine;

    public EngineApiTests(TinyTextModel model) =>
        _engine = Specialized.Engine.Create(model.Folder, new EngineOptions { Device = "cpu", MaxTotalTokens = 2048, PageSize = 4, ContextLength = 96 });

    public void Dispose() => _engine.Dispose();

    private static SamplingParams Greedy(int n = 12) => new() { Temperature = 0, MaxNewTokens = n, IgnoreEos = true };

    [Fact]
    public async Task Sync_async_and_both_streams_give_the_same_text()
    {
        GenerateOutput sync = _engine.Generate(Prompt, Greedy());
        GenerateOutput async = await _engine.GenerateAsync(Prompt, Greedy());
        var chunks = _engine.GenerateStream(Prompt, Greedy()).ToList();
        var asyncChunks = new List<StreamChunk>();
        await foreach (StreamChunk c in _engine.GenerateStreamAsync(Prompt, Greedy())) asyncChunks.Add(c);

        Assert.Equal(12, sync.OutputIds.Count);
        Assert.Equal(sync.OutputIds, async.OutputIds);
        Assert.Equal(sync.Text, async.Text);
        foreach (var stream in new[] { chunks, asyncChunks })
        {
            Assert.Equal(sync.Text, string.Concat(stream.Select(c => c.TextDelta)));
            Assert.Equal(sync.OutputIds, stream.SelectMany(c => c.NewOutputIds));
            Assert.True(stream[^1].IsLast);
            Assert.All(stream[..^1], c => Assert.False(c.IsLast));
            Assert.DoesNotContain(stream, c => c.TextDelta.Contains('\uFFFD'));
        }
        Assert.Equal(_engine.Tokenizer!.Decode(sync.OutputIds, skipSpecialTokens: true), sync.Text);
    }

    [Fact]
    public void A_seeded_sampled_request_reproduces()
    {
        // A hot temperature keeps the random model's distribution wide, so different seeds visibly diverge.
        var p = new SamplingParams { Temperature = 2.0f, TopK = 50, Seed = 1234, MaxNewTokens = 16, IgnoreEos = true };
        GenerateOutput a = _engine.Generate(Prompt, p);
        GenerateOutput b = _engine.Generate(Prompt, p);
        GenerateOutput c = _engine.Generate(Prompt, p with { Seed = 4321 });
        Assert.Equal(a.OutputIds, b.OutputIds);
        Assert.NotEqual(a.OutputIds, c.OutputIds);
    }

    [Fact]
    public void N_samples_per_prompt_come_back_in_order()
    {
        var p = new SamplingParams { Temperature = 2.0f, N = 3, Seed = 7, MaxNewTokens = 8, IgnoreEos = true };
        var outputs = _engine.Generate(["one", "two"], p);
        Assert.Equal(6, outputs.Count);
        Assert.True(outputs.Take(3).Select(o => string.Join(",", o.OutputIds)).Distinct().Count() > 1);
        Assert.Throws<ArgumentException>(() => _engine.Generate("one", p));
    }

    [Fact]
    public async Task Token_id_batches_take_one_sampling_params_per_prompt()
    {
        IReadOnlyList<IReadOnlyList<int>> prompts = [_engine.Tokenizer!.Encode("one"), _engine.Tokenizer.Encode("two three")];
        SamplingParams[] parameters = [Greedy(3), new() { Temperature = 2.0f, TopK = 50, Seed = 99, MaxNewTokens = 5, IgnoreEos = true }];
        int[][] alone = prompts.Select((ids, i) => _engine.Generate(ids, parameters[i]).OutputIds.ToArray()).ToArray();

        Assert.Equal(alone, _engine.Generate(prompts, parameters).Select(o => o.OutputIds));
        Assert.Equal(alone, (await _engine.GenerateAsync(prompts, parameters)).Select(o => o.OutputIds));
        Assert.Equal(alone, ByIndex(_engine.GenerateStream(prompts, parameters), prompts.Count));
        var asyncChunks = new List<StreamChunk>();
        await foreach (StreamChunk c in _engine.GenerateStreamAsync(prompts, parameters)) asyncChunks.Add(c);
        Assert.Equal(alone, ByIndex(asyncChunks, prompts.Count));
        Assert.Equal(alone, ByIndex(_engine.GenerateStream(["one", "two three"], parameters), prompts.Count));

        Assert.Throws<ArgumentException>(() => _engine.Generate(prompts, [Greedy()]));
    }

    private static int[][] ByIndex(IEnumerable<StreamChunk> chunks, int prompts)
    {
        List<StreamChunk> all = chunks.ToList();
        return Enumerable.Range(0, prompts).Select(i => all.Where(c => c.Index == i).SelectMany(c => c.NewOutputIds).ToArray()).ToArray();
    }

    // HF's fast tokenizer, which SGLang decodes Qwen with, ignores spaces_between_special_tokens: it decodes
    // [151644, 151645] as "<|im_start|><|im_end|>" (Text/Data/golden_ids.json). So does the engine, either way.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Special_tokens_kept_in_the_text_have_no_spaces_between_them(bool spacesBetweenSpecialTokens)
    {
        const int ImStart = 151644, ImEnd = 151645;
        var p = new SamplingParams
        {
            Temperature = 1.0f, Seed = 3, MaxNewTokens = 8, IgnoreEos = true, SkipSpecialTokens = false,
            SpacesBetweenSpecialTokens = spacesBetweenSpecialTokens, LogitBias = new Dictionary<int, float> { [ImStart] = 100, [ImEnd] = 100 },
        };
        GenerateOutput output = _engine.Generate(Prompt, p);
        Assert.All(output.OutputIds, id => Assert.Contains(id, new[] { ImStart, ImEnd }));
        Assert.Equal(string.Concat(output.OutputIds.Select(id => id == ImStart ? "<|im_start|>" : "<|im_end|>")), output.Text);
        Assert.Equal(output.Text, string.Concat(_engine.GenerateStream(Prompt, p).Select(c => c.TextDelta)));
    }

    [Fact]
    public void A_stop_string_spanning_tokens_ends_the_text_before_it()
    {
        GenerateOutput free = _engine.Generate(Prompt, Greedy(16));
        // A stop string made of the end of the 3rd token's text and the start of the 4th's.
        string[] pieces = free.OutputIds.Select(id => _engine.Tokenizer!.Decode([id], skipSpecialTokens: true)).ToArray();
        int k = Enumerable.Range(2, 10).First(i => pieces[i].Length >= 1 && pieces[i + 1].Length >= 1);
        string before = string.Concat(pieces[..k]) + pieces[k][..^1];
        string stop = pieces[k][^1..] + pieces[k + 1][..1];
        Assert.DoesNotContain(stop, before);  // else pick another boundary: the check needs the first occurrence here

        GenerateOutput stopped = _engine.Generate(Prompt, Greedy(16) with { Stop = [stop] });
        Assert.Equal(FinishType.Stop, stopped.MetaInfo.FinishReason!.Type);
        Assert.Equal(stop, stopped.MetaInfo.FinishReason.Matched);
        Assert.Equal(before, stopped.Text);
        Assert.Equal(k + 2, stopped.OutputIds.Count);

        GenerateOutput kept = _engine.Generate(Prompt, Greedy(16) with { Stop = [stop], NoStopTrim = true });
        Assert.Equal(before + stop, kept.Text);
    }

    [Fact]
    public void A_stop_token_can_end_the_request_at_its_first_token()
    {
        int first = _engine.Generate(Prompt, Greedy(1)).OutputIds[0];
        GenerateOutput output = _engine.Generate(Prompt, Greedy(8) with { StopTokenIds = [first] });
        Assert.Equal([first], output.OutputIds);
        Assert.Equal(new FinishReason(FinishType.Stop, first), output.MetaInfo.FinishReason);
        Assert.Equal("", output.Text);
    }

    [Fact]
    public void Max_new_tokens_zero_returns_at_once()
    {
        GenerateOutput output = _engine.Generate(Prompt, Greedy(0));
        Assert.Empty(output.OutputIds);
        Assert.Equal(FinishType.Length, output.MetaInfo.FinishReason!.Type);
        Assert.Equal(_engine.Tokenizer!.Encode(Prompt).Length, output.MetaInfo.PromptTokens);
    }

    [Fact]
    public void Bad_requests_throw_before_anything_is_queued()
    {
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => _engine.Generate("")).Message);
        Assert.Contains("151936", Assert.Throws<ArgumentException>(() => _engine.Generate([1, 151936, 2])).Message);
        Assert.Contains("top_p", Assert.ThrowsAny<ArgumentException>(() => _engine.Generate(Prompt, new SamplingParams { TopP = 1.5f })).Message);
        // One bad prompt in a batch: nothing runs.
        Assert.ThrowsAny<ArgumentException>(() => _engine.Generate(new[] { "fine", "" }, Greedy()));
        Assert.Equal(0, _engine.Scheduler.Pending);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_aborts_and_the_others_go_on()
    {
        string longPrompt = string.Join(" ", Enumerable.Repeat("word", 200));
        var outputs = _engine.Generate([longPrompt, Prompt], Greedy(4));
        Assert.Equal(FinishType.Abort, outputs[0].MetaInfo.FinishReason!.Type);
        Assert.Contains("longer than the model's context length (96 tokens)", outputs[0].MetaInfo.FinishReason!.Message);
        Assert.Equal(4, outputs[1].OutputIds.Count);
    }

    [Fact]
    public void Generation_stops_when_the_context_is_full()
    {
        int prompt = _engine.Tokenizer!.Encode(Prompt).Length;
        GenerateOutput output = _engine.Generate(Prompt, Greedy(500));
        Assert.Equal(96 - prompt, output.OutputIds.Count);
        Assert.Equal(FinishType.Length, output.MetaInfo.FinishReason!.Type);
    }

    [Fact]
    public void Logprobs_and_hidden_states_come_back_when_asked()
    {
        GenerateOutput output = _engine.Generate(Prompt, Greedy(5) with { ReturnLogprob = true, TopLogprobsNum = 3, ReturnHiddenStates = true });
        int prompt = output.MetaInfo.PromptTokens;
        Assert.Equal(5, output.OutputTokenLogprobs!.Count);
        Assert.All(output.OutputTokenLogprobs, l => Assert.True(l.Logprob <= 0));
        Assert.Equal(output.OutputIds, output.OutputTokenLogprobs.Select(l => l.TokenId));
        Assert.All(output.OutputTopLogprobs!, top => Assert.Equal(3, top.Count));
        Assert.Equal(output.OutputIds, output.OutputTopLogprobs!.Select(top => top[0].TokenId));  // greedy picks the most likely

        // SGLang's layout: the prompt's positions, then one row per generated token fed back.
        Assert.Equal(prompt, output.HiddenStates![0].Length);
        Assert.Equal(1 + 4, output.HiddenStates.Count);
        Assert.All(output.HiddenStates.Skip(1), h => Assert.Single(h));
        Assert.All(output.HiddenStates.SelectMany(h => h), row => Assert.Equal(64, row.Length));
    }

    [Fact]
    public void Chat_messages_go_through_qwens_template()
    {
        ChatMessage[] messages = [ChatMessage.User("Hello!")];
        Assert.Equal(ChatTemplate.Render(messages, addGenerationPrompt: true), _engine.ApplyChatTemplate(messages));
        GenerateOutput output = _engine.Generate(messages, Greedy(3));
        Assert.Equal(_engine.Tokenizer!.Encode(_engine.ApplyChatTemplate(messages)).Length, output.MetaInfo.PromptTokens);
    }
}
