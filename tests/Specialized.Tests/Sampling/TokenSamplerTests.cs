using Specialized.Sampling;

namespace Specialized.Tests.Sampling;

/// <summary>
/// SGLang's sampling, one request at a time: greedy, temperature, top-k, top-p, min-p, logit bias, penalties,
/// min_new_tokens and logprobs, each against a hand computation or the distribution it should draw from.
/// </summary>
public sealed class TokenSamplerTests
{
    private const int QwenVocab = 151_936;
    private static readonly SamplingParams Defaults = new();

    // Eight logits 0.5 apart: at temperature 0.7 the least likely token still has p ≈ 0.003, 70 of 20 000 draws.
    private static readonly float[] Ladder = [2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -1.5f];

    private static TokenSampler Sampler(SamplingParams parameters, int vocab = 8, long seed = 1, int[]? eos = null, int[]? prompt = null) =>
        new(parameters, vocab, seed, eos ?? [], prompt ?? []);

    private static float[] RandomRow(int vocab, int seed, float scale = 3)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, vocab).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
    }

    private static double[] Softmax(ReadOnlySpan<float> logits, double temperature = 1)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double[] p = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp((logits[i] - max) / temperature);
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    private static int[] Counts(TokenSampler sampler, float[] logits, int draws)
    {
        int[] counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits.ToArray()).TokenId]++;
        return counts;
    }

    private static double ChiSquare(int[] observed, double[] expectedProbabilities)
    {
        double n = observed.Sum(), chi = 0;
        for (int i = 0; i < observed.Length; i++)
        {
            double e = n * expectedProbabilities[i];
            chi += (observed[i] - e) * (observed[i] - e) / e;
        }
        return chi;
    }

    [Fact]
    public void Greedy_takes_the_argmax()
    {
        var sampler = Sampler(Defaults with { Temperature = 0 }, vocab: 1000);
        for (int seed = 0; seed < 20; seed++)
        {
            float[] row = RandomRow(1000, seed);
            int expected = Array.IndexOf(row, row.Max());
            Assert.Equal(expected, sampler.Sample(row).TokenId);
        }
    }

    [Fact]
    public void Greedy_breaks_ties_by_the_lowest_id()
    {
        var sampler = Sampler(Defaults with { Temperature = 0 }, vocab: 300);
        float[] row = new float[300];
        row[170] = row[40] = row[299] = 5;
        Assert.Equal(40, sampler.Sample(row).TokenId);
        Assert.Equal(0, sampler.Sample(new float[300]).TokenId);
    }

    [Fact]
    public void Top_k_of_one_is_greedy_whatever_the_temperature()
    {
        var sampler = Sampler(Defaults with { Temperature = 5, TopK = 1 }, vocab: 1000);
        for (int seed = 0; seed < 20; seed++)
        {
            float[] row = RandomRow(1000, seed, scale: 0.1f);
            Assert.Equal(Array.IndexOf(row, row.Max()), sampler.Sample(row).TokenId);
        }
    }

    [Fact]
    public void The_same_seed_and_logits_give_the_same_tokens_whatever_other_samplers_and_threads_do()
    {
        SamplingParams p = Defaults with { Temperature = 1.3f, TopP = 0.9f };
        float[][] rows = [.. Enumerable.Range(0, 50).Select(i => RandomRow(500, i, scale: 2))];
        int[] Run(TokenSampler s) => [.. rows.Select(r => { int t = s.Sample(r.ToArray()).TokenId; s.Accept(t); return t; })];

        int[] alone = Run(Sampler(p, vocab: 500, seed: 7));
        Assert.Equal(alone, Run(Sampler(p, vocab: 500, seed: 7)));

        // Interleaved with another request's sampler, and on other threads.
        var mine = Sampler(p, vocab: 500, seed: 7);
        var other = Sampler(p, vocab: 500, seed: 7);
        var interleaved = new List<int>();
        foreach (float[] r in rows)
        {
            other.Sample(RandomRow(500, 999));
            other.Sample(r.ToArray());
            int t = mine.Sample(r.ToArray()).TokenId;
            mine.Accept(t);
            interleaved.Add(t);
        }
        Assert.Equal(alone, interleaved);
        int[][] threaded = [.. Enumerable.Range(0, 4).AsParallel().Select(_ => Run(Sampler(p, vocab: 500, seed: 7)))];
        Assert.All(threaded, t => Assert.Equal(alone, t));

        Assert.NotEqual(alone, Run(Sampler(p, vocab: 500, seed: 8)));
    }

    // Chi-square goodness of fit with 7 degrees of freedom. 40.5 is its 1 - 1e-6 quantile: a correct sampler exceeds it
    // for one seed in a million, so the seeded test is not flaky by accident of the seed. The same draws judged against
    // the untempered softmax score in the hundreds, so the test can tell a temperature bug from noise.
    private const double ChiSquareLimit = 40.5;

    [Fact]
    public void Temperature_sampling_follows_the_tempered_softmax()
    {
        int[] counts = Counts(Sampler(Defaults with { Temperature = 0.7f }, seed: 2024), Ladder, 20_000);
        Assert.InRange(ChiSquare(counts, Softmax(Ladder, 0.7)), 0, ChiSquareLimit);
        Assert.True(ChiSquare(counts, Softmax(Ladder, 1.0)) > 10 * ChiSquareLimit);
    }

    [Fact]
    public void Temperature_sampling_over_a_qwen_sized_row_follows_the_softmax()
    {
        // Eight live tokens spread over the row's chunks, the rest impossible: exercises the chunked cumulative draw.
        float[] row = Enumerable.Repeat(float.NegativeInfinity, QwenVocab).ToArray();
        int[] ids = [3, 1500, 40_000, 77_777, 100_001, 120_000, 151_000, QwenVocab - 1];
        for (int i = 0; i < ids.Length; i++) row[ids[i]] = Ladder[i];
        var sampler = Sampler(Defaults, vocab: QwenVocab, seed: 11);
        int[] counts = new int[ids.Length];
        float[] work = new float[QwenVocab];
        for (int i = 0; i < 4000; i++)
        {
            row.CopyTo(work);
            counts[Array.IndexOf(ids, sampler.Sample(work).TokenId)]++;
        }
        // 7 degrees of freedom as above; 4 000 draws keep every expected count above 20.
        Assert.InRange(ChiSquare(counts, Softmax(Ladder)), 0, ChiSquareLimit);
    }

    [Fact]
    public void Top_k_draws_only_from_the_k_best_in_proportion()
    {
        int[] counts = Counts(Sampler(Defaults with { TopK = 3 }, seed: 5), Ladder, 20_000);
        Assert.All(counts[3..], c => Assert.Equal(0, c));
        double[] kept = Softmax(Ladder[..3]);
        // 2 degrees of freedom: 27.6 is the 1 - 1e-6 quantile.
        Assert.InRange(ChiSquare(counts[..3], kept), 0, 27.6);
    }

    [Fact]
    public void Top_p_draws_exactly_the_nucleus()
    {
        // Probabilities 0.4, 0.25, 0.15, 0.1, ...: with top_p 0.75 the mass before token 2 is 0.65 (kept), before token
        // 3 it is 0.8 (dropped). The nucleus is {0, 1, 2}, drawn in proportion 0.4 : 0.25 : 0.15.
        double[] p = [0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.01, 0.01];
        float[] logits = [.. p.Select(x => (float)Math.Log(x))];
        int[] counts = Counts(Sampler(Defaults with { TopP = 0.75f }, seed: 9), logits, 20_000);
        Assert.All(counts[3..], c => Assert.Equal(0, c));
        Assert.InRange(ChiSquare(counts[..3], [0.5, 0.3125, 0.1875]), 0, 27.6);

        // With top-k as well the filters are joint: top_p still measures mass under the whole distribution.
        int[] joint = Counts(Sampler(Defaults with { TopP = 0.75f, TopK = 5 }, seed: 9), logits, 2000);
        Assert.All(joint[3..], c => Assert.Equal(0, c));
        Assert.All(joint[..3], c => Assert.True(c > 0));
    }

    [Theory]
    // A flat tail under one leading token: every tail weight is below the first gathering threshold (1/1024 of the
    // largest) yet the tail holds most of the mass, so the nucleus is found on the second, lower threshold.
    [InlineData(20_000, 1, -3.0, 2.0, 0.5f)]
    // A hot, flat row: twenty thousand tokens above the threshold are too many to sort, so the radix search runs.
    [InlineData(20_000, 0, 0.0, 1.0, 0.9f)]
    // A Qwen-sized peaked row: thirty live tokens hold ~98% of the mass and the nucleus is among them.
    [InlineData(QwenVocab, 30, -8.0, 6.0, 0.9f)]
    public void Top_p_never_leaves_the_nucleus(int vocab, int live, double tailTop, double tailSpread, float topP)
    {
        var random = new Random(3);
        float[] row = [.. Enumerable.Range(0, vocab).Select(_ => (float)(tailTop - tailSpread * random.NextDouble()))];
        for (int i = 0; i < live; i++) row[random.Next(vocab)] = (float)(4 * random.NextDouble());
        row[vocab / 2] = 4;
        double[] p = Softmax(row);
        int[] order = [.. Enumerable.Range(0, vocab).OrderByDescending(i => p[i]).ThenBy(i => i)];
        var nucleus = new HashSet<int>();
        double before = 0;
        foreach (int id in order)
        {
            if (before >= topP) break;
            nucleus.Add(id);
            before += p[id];
        }

        var sampler = Sampler(Defaults with { TopP = topP }, vocab: vocab, seed: 4);
        var drawn = new HashSet<int>();
        float[] work = new float[vocab];
        for (int i = 0; i < 200; i++)
        {
            row.CopyTo(work);
            drawn.Add(sampler.Sample(work).TokenId);
        }
        Assert.Subset(nucleus, drawn);
        Assert.True(drawn.Count > 1);
    }

    [Fact]
    public void Top_p_takes_the_lowest_ids_of_tokens_tied_at_its_edge()
    {
        // One token of weight 1 and 19 999 tied at e^-8 ≈ 3.4e-4, below the gathering threshold, so the radix search
        // finds the edge. The sorted order puts ties by id, so the nucleus is token 0 and the tied ids 1..k, k the
        // fewest that reach half the mass. k is computed in double here and from float weights in the sampler, so the
        // last id may differ by one.
        const int vocab = 20_000;
        float[] row = Enumerable.Repeat(-8f, vocab).ToArray();
        row[0] = 0;
        double w = Math.Exp(-8), total = 1 + (vocab - 1) * w;
        int k = (int)Math.Ceiling((0.5 * total - 1) / w);

        var sampler = Sampler(Defaults with { TopP = 0.5f }, vocab: vocab, seed: 8);
        int[] drawn = [.. Enumerable.Range(0, 300).Select(_ => sampler.Sample(row.ToArray()).TokenId)];
        Assert.InRange(drawn.Max(), 0.9 * k, k + 1);
        Assert.Contains(0, drawn);

        // min-p above the edge weight leaves only the leader.
        var strict = Sampler(Defaults with { TopP = 0.5f, MinP = 0.01f }, vocab: vocab, seed: 8);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(0, strict.Sample(row.ToArray()).TokenId));
    }

    [Fact]
    public void Min_p_keeps_tokens_at_least_min_p_times_the_most_likely()
    {
        // p = 0.5, 0.2, 0.12, 0.09, ...: min_p 0.2 keeps p ≥ 0.1, so {0, 1, 2}, drawn as 0.5 : 0.2 : 0.12.
        double[] p = [0.5, 0.2, 0.12, 0.09, 0.05, 0.02, 0.01, 0.01];
        float[] logits = [.. p.Select(x => (float)Math.Log(x))];
        double[] kept = [0.5 / 0.82, 0.2 / 0.82, 0.12 / 0.82];
        foreach (SamplingParams parameters in (SamplingParams[])[Defaults with { MinP = 0.2f }, Defaults with { MinP = 0.2f, TopK = 6 }])
        {
            int[] counts = Counts(Sampler(parameters, seed: 21), logits, 20_000);
            Assert.All(counts[3..], c => Assert.Equal(0, c));
            Assert.InRange(ChiSquare(counts[..3], kept), 0, 27.6);
        }
    }

    [Fact]
    public void Logit_bias_is_added_before_sampling()
    {
        var sampler = Sampler(Defaults with { Temperature = 0, LogitBias = new Dictionary<int, float> { [7] = 3.6f, [0] = -1 } });
        float[] row = (float[])Ladder.Clone();
        sampler.ProcessLogits(row);
        Assert.Equal([1.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 2.1f], row);
        Assert.Equal(7, sampler.Sample((float[])Ladder.Clone()).TokenId);
    }

    private static float[] Penalized(SamplingParams parameters, int[] generated, int[]? prompt = null)
    {
        var sampler = Sampler(parameters, prompt: prompt);
        foreach (int t in generated) sampler.Accept(t);
        float[] row = [2.0f, -1.0f, 0.5f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f];
        sampler.ProcessLogits(row);
        return row;
    }

    // Output so far: token 0 twice, tokens 1 and 3 once. Token 2 is in the prompt only, which no penalty counts.
    private static readonly int[] Generated = [0, 3, 0, 1];
    private static readonly int[] Prompt = [2, 2, 2, 0];

    [Fact]
    public void Frequency_penalty_subtracts_count_times_penalty()
    {
        Assert.Equal([2 - 2 * 0.5f, -1 - 0.5f, 0.5f, 3 - 0.5f, 0, 0, 0, 0], Penalized(Defaults with { FrequencyPenalty = 0.5f }, Generated, Prompt));
        Assert.Equal([2 + 2 * 0.5f, -1 + 0.5f, 0.5f, 3 + 0.5f, 0, 0, 0, 0], Penalized(Defaults with { FrequencyPenalty = -0.5f }, Generated, Prompt));
    }

    [Fact]
    public void Presence_penalty_subtracts_once_for_any_count()
    {
        Assert.Equal([2 - 0.25f, -1 - 0.25f, 0.5f, 3 - 0.25f, 0, 0, 0, 0], Penalized(Defaults with { PresencePenalty = 0.25f }, Generated, Prompt));
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits()
    {
        Assert.Equal([2 / 1.5f, -1 * 1.5f, 0.5f, 3 / 1.5f, 0, 0, 0, 0], Penalized(Defaults with { RepetitionPenalty = 1.5f }, Generated, Prompt));
        Assert.Equal([2 / 0.5f, -1 * 0.5f, 0.5f, 3 / 0.5f, 0, 0, 0, 0], Penalized(Defaults with { RepetitionPenalty = 0.5f }, Generated, Prompt));
    }

    [Fact]
    public void Penalties_combine_additive_first_then_repetition()
    {
        // token 0: (2 - (2·0.5 + 0.25)) / 1.5 = 0.5; token 1: (-1 - 0.75) · 1.5 = -2.625; token 3: (3 - 0.75) / 1.5 = 1.5.
        float[] row = Penalized(Defaults with { FrequencyPenalty = 0.5f, PresencePenalty = 0.25f, RepetitionPenalty = 1.5f }, Generated, Prompt);
        Assert.Equal([0.5f, -2.625f, 0.5f, 1.5f, 0, 0, 0, 0], row);
        // The sign that picks division or multiplication is the one after the additive penalties: 0.5 - 0.75 < 0.
        var sampler = Sampler(Defaults with { PresencePenalty = 0.75f, RepetitionPenalty = 2 });
        sampler.Accept(2);
        float[] flipped = [0, 0, 0.5f, 0, 0, 0, 0, 0];
        sampler.ProcessLogits(flipped);
        Assert.Equal(-0.5f, flipped[2]);
    }

    [Fact]
    public void Min_new_tokens_masks_eos_and_stop_ids_until_reached()
    {
        // Token 7 (eos) and 6 (a stop id) lead; greedy must avoid both for the first two tokens.
        float[] Row() => [0, 1, 2, 3, 4, 5, 10, 11];
        var sampler = Sampler(Defaults with { Temperature = 0, MinNewTokens = 2, StopTokenIds = [6] }, eos: [7]);
        float[] masked = Row();
        sampler.ProcessLogits(masked);
        Assert.Equal([0, 1, 2, 3, 4, 5, float.NegativeInfinity, float.NegativeInfinity], masked);

        int[] tokens = new int[3];
        for (int i = 0; i < 3; i++) sampler.Accept(tokens[i] = sampler.Sample(Row()).TokenId);
        Assert.Equal([5, 5, 7], tokens);

        // Sampling with a temperature never draws a masked token either.
        var hot = Sampler(Defaults with { Temperature = 2, MinNewTokens = 1000, MaxNewTokens = 1000, StopTokenIds = [6] }, eos: [7]);
        for (int i = 0; i < 500; i++)
        {
            int t = hot.Sample(Row()).TokenId;
            Assert.True(t < 6, $"drew {t} before min_new_tokens");
            hot.Accept(t);
        }
    }

    [Fact]
    public void Logprobs_are_log_softmax_of_the_raw_row_whatever_the_transforms()
    {
        float[] raw = RandomRow(5000, 17);
        double[] p = Softmax(raw);
        var parameters = Defaults with
        {
            ReturnLogprob = true, TopLogprobsNum = 5, Temperature = 0.6f, TopP = 0.8f, RepetitionPenalty = 1.3f,
            LogitBias = new Dictionary<int, float> { [10] = 2 }, MaxNewTokens = 64,
        };
        var sampler = Sampler(parameters, vocab: 5000, seed: 3);
        int[] expectedTop = [.. Enumerable.Range(0, raw.Length).OrderByDescending(i => raw[i]).Take(5)];
        for (int step = 0; step < 10; step++)
        {
            SampledToken sampled = sampler.Sample(raw.ToArray());
            Assert.Equal(Math.Log(p[sampled.TokenId]), sampled.Logprob, 1e-5);
            Assert.NotNull(sampled.TopLogprobs);
            Assert.Equal(expectedTop, sampled.TopLogprobs.Select(t => t.TokenId));
            foreach (TokenLogprob t in sampled.TopLogprobs) Assert.Equal(Math.Log(p[t.TokenId]), t.Logprob, 1e-5);
            sampler.Accept(sampled.TokenId);
        }
    }

    [Fact]
    public void Top_logprobs_are_sorted_with_ties_by_id()
    {
        float[] row = [1, 3, 2, 3, 0, 2, -1, 3];
        var sampler = Sampler(Defaults with { Temperature = 0, ReturnLogprob = true, TopLogprobsNum = 5 });
        TokenLogprob[] top = sampler.Sample(row).TopLogprobs!;
        Assert.Equal([1, 3, 7, 2, 5], top.Select(t => t.TokenId));
        Assert.True(top.Zip(top.Skip(1)).All(pair => pair.First.Logprob >= pair.Second.Logprob));
    }

    [Fact]
    public void Without_return_logprob_there_are_no_logprobs()
    {
        SampledToken sampled = Sampler(Defaults with { TopLogprobsNum = 3 }).Sample((float[])Ladder.Clone());
        Assert.True(float.IsNaN(sampled.Logprob));
        Assert.Null(sampled.TopLogprobs);
    }

    [Theory]
    [InlineData(1.0f, -1, 1.0f, 0.0f)]
    [InlineData(0.8f, 50, 1.0f, 0.0f)]
    [InlineData(0.8f, -1, 0.9f, 0.0f)]
    [InlineData(1.0f, -1, 1.0f, 0.05f)]
    [InlineData(0.8f, 40, 0.9f, 0.05f)]
    [InlineData(0.0f, -1, 1.0f, 0.0f)]
    public void Sampling_allocates_nothing_per_call(float temperature, int topK, float topP, float minP)
    {
        var parameters = Defaults with { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, RepetitionPenalty = 1.1f, MaxNewTokens = 1000 };
        var sampler = Sampler(parameters, vocab: QwenVocab);
        float[] row = RandomRow(QwenVocab, 1, scale: 8);
        float[] work = new float[QwenVocab];
        for (int i = 0; i < 20; i++) sampler.Accept(i);
        row.CopyTo(work);
        sampler.Sample(work);   // the first call on this thread allocates its scratch

        // The runtime itself may allocate on this thread now and then (tiering a method up, a lazily made delegate),
        // at moments the test cannot choose. An allocation per call shows in every window, so one clean window of
        // twenty calls out of fifty proves there is none.
        long smallest = long.MaxValue;
        for (int window = 0; window < 50 && smallest > 0; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                row.CopyTo(work);
                sampler.Sample(work);
            }
            smallest = Math.Min(smallest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, smallest);
    }

    [Fact]
    public void A_row_of_the_wrong_length_or_without_a_finite_logit_is_rejected()
    {
        var sampler = Sampler(Defaults);
        Assert.Throws<ArgumentException>(() => sampler.Sample(new float[7]));
        Assert.Throws<ArgumentException>(() => sampler.Sample(Enumerable.Repeat(float.NegativeInfinity, 8).ToArray()));
        Assert.Throws<ArgumentException>(() => sampler.Sample([0, 1, float.NaN, 0, 0, 0, 0, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Accept(8));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler(Defaults with { TopP = 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler(Defaults, eos: [8]));
    }
}
