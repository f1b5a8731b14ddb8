using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Specialized.Sampling;

/// <summary>A token and its log-probability under the model's distribution.</summary>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>
/// The token a sampler chose. <see cref="Logprob"/> is NaN unless the request set
/// <see cref="SamplingParams.ReturnLogprob"/>; <see cref="TopLogprobs"/> is null unless it also set
/// <see cref="SamplingParams.TopLogprobsNum"/>, and is then sorted from the most likely token down.
/// </summary>
public readonly record struct SampledToken(int TokenId, float Logprob, TokenLogprob[]? TopLogprobs);

/// <summary>
/// Per-request sampling state: SGLang's logits processing and sampling for one row of logits at a time.
/// Not thread-safe; one per request (the scheduler owns it).
/// </summary>
/// <remarks>
/// <para>Order, as in SGLang (<c>SamplingBatchInfo.apply_logits_bias</c>, then <c>Sampler.forward</c>): frequency and
/// presence penalties, the repetition penalty, the min_new_tokens mask, logit bias; then argmax when the request is
/// greedy (temperature below 1e-6, or top_k = 1), else temperature, softmax, top-k, top-p, min-p and one draw.</para>
/// <para>Penalties count the tokens this request generated (those passed to <see cref="Accept"/>), not the prompt:
/// SGLang's penalizers accumulate output tokens only (<c>penaltylib/frequency_penalty.py</c>,
/// <c>presence_penalty.py</c>, <c>repetition_penalty.py</c> each implement only <c>_cumulate_output_tokens</c>).</para>
/// <para>Top-k and top-p filter jointly, as SGLang's default sampler (flashinfer's
/// <c>top_k_top_p_sampling_from_probs(..., filter_apply_order="joint")</c>) and its PyTorch fallback
/// (<c>top_k_top_p_min_p_sampling_from_probs_torch</c>) do: top-p measures mass under the whole distribution, not one
/// renormalised over the top k. Min-p keeps tokens at least min_p times as likely as the most likely one.</para>
/// </remarks>
public sealed class TokenSampler
{
    // Top-p first gathers the tokens at least this fraction as likely as the most likely one: in a peaked distribution
    // (the usual case) they are a handful and hold the nucleus, so sorting them is all it takes.
    private const float NucleusGatherFraction = 1f / 1024;

    // Past this many gathered tokens, a sort costs more than the radix search for the nucleus's edge.
    private const int SortedNucleusLimit = 4096;

    // Chunk of the weight row whose vectorised sum the cumulative draw skips over in one step.
    private const int DrawChunk = 1024;

    private readonly SamplingParams _parameters;
    private readonly int _vocabSize;
    private readonly Xoshiro256StarStar _random;
    private readonly bool _greedy;
    private readonly int _topK;          // 0: off (top_k = -1, or at least the vocabulary)
    private readonly bool _topP;
    private readonly bool _penalized;
    private readonly int[] _endTokenIds; // end-of-sequence and stop token ids, masked while MinNewTokens is unmet
    private readonly int[] _biasIds;
    private readonly float[] _biasValues;

    // Occurrences of each generated token. A dictionary, not a vocabulary-sized array: a request generates far fewer
    // distinct tokens than the vocabulary holds, and the penalty pass walks only these.
    private readonly Dictionary<int, int> _outputCounts = [];
    private int _generated;

    /// <param name="parameters">The request's parameters; they are validated against <paramref name="vocabSize"/>.</param>
    /// <param name="vocabSize">Length of a logits row.</param>
    /// <param name="seed">The request's seed (the engine derives one when <see cref="SamplingParams.Seed"/> is null).</param>
    /// <param name="eosTokenIds">Ids that end generation: they and <see cref="SamplingParams.StopTokenIds"/> are masked
    /// while fewer than <see cref="SamplingParams.MinNewTokens"/> tokens were generated.</param>
    /// <param name="promptTokens">The request's prompt, checked to hold token ids of this vocabulary. No penalty counts
    /// it: SGLang's penalizers count output tokens only (see the remarks on the class).</param>
    public TokenSampler(SamplingParams parameters, int vocabSize, long seed, IReadOnlyCollection<int> eosTokenIds, ReadOnlySpan<int> promptTokens)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        parameters.Validate(vocabSize);
        foreach (int id in eosTokenIds) CheckTokenId(id, vocabSize, nameof(eosTokenIds));
        foreach (int id in promptTokens) CheckTokenId(id, vocabSize, nameof(promptTokens));

        _parameters = parameters;
        _vocabSize = vocabSize;
        _random = new Xoshiro256StarStar(seed);
        _topK = parameters.TopK > 0 && parameters.TopK < vocabSize ? parameters.TopK : 0;
        _greedy = parameters.IsGreedy || _topK == 1;
        _topP = parameters.TopP < 1f;
        _penalized = parameters.FrequencyPenalty != 0f || parameters.PresencePenalty != 0f || parameters.RepetitionPenalty != 1f;
        _endTokenIds = parameters.MinNewTokens > 0 ? [.. eosTokenIds.Concat(parameters.StopTokenIds ?? []).Distinct()] : [];
        KeyValuePair<int, float>[] bias = parameters.LogitBias?.ToArray() ?? [];
        _biasIds = [.. bias.Select(b => b.Key)];
        _biasValues = [.. bias.Select(b => b.Value)];
    }

    /// <summary>
    /// Samples the next token from one row of raw logits; the row is overwritten as scratch. Logprobs are
    /// log_softmax of the raw row, before penalties, bias and temperature.
    /// </summary>
    /// <exception cref="ArgumentException">The row's length is not the vocabulary's, or the processed row has a NaN
    /// or no finite logit to sample.</exception>
    public SampledToken Sample(Span<float> logits)
    {
        if (logits.Length != _vocabSize)
            throw new ArgumentException($"The logits row has {logits.Length} entries, not the vocabulary's {_vocabSize}.", nameof(logits));

        Scratch scratch = Scratch.For(_vocabSize);
        float logNormalizer = float.NaN;
        TokenLogprob[]? topLogprobs = null;
        if (_parameters.ReturnLogprob)
        {
            // The chosen token is not known until the row has been transformed, so its raw logit is kept aside.
            logits.CopyTo(scratch.Raw);
            logNormalizer = LogSumExp(logits);
            if (_parameters.TopLogprobsNum > 0) topLogprobs = TopLogprobs(scratch.Raw.AsSpan(0, _vocabSize), logNormalizer, scratch.Candidates);
        }

        ProcessLogits(logits);
        int token = _greedy ? Argmax(logits) : Draw(logits, scratch.Candidates);
        float logprob = _parameters.ReturnLogprob ? scratch.Raw[token] - logNormalizer : float.NaN;
        return new SampledToken(token, logprob, topLogprobs);
    }

    /// <summary>
    /// Whether the next token is simply the argmax of the raw logits: greedy, with no penalty, bias or pending
    /// min_new_tokens mask, and no logprobs to report. The scheduler then lets the device pick it.
    /// </summary>
    public bool IsPlainGreedy => _greedy && !_penalized && _biasIds.Length == 0 && !_parameters.ReturnLogprob
        && (_endTokenIds.Length == 0 || _generated >= _parameters.MinNewTokens);

    /// <summary>Records a token as generated (updates penalty counts). The scheduler calls it after Sample for the chosen token.</summary>
    public void Accept(int tokenId)
    {
        CheckTokenId(tokenId, _vocabSize, nameof(tokenId));
        _generated++;
        if (_penalized) CollectionsMarshal.GetValueRefOrAddDefault(_outputCounts, tokenId, out _)++;
    }

    /// <summary>The logits processors that run before sampling: penalties, the min_new_tokens mask, logit bias.</summary>
    internal void ProcessLogits(Span<float> logits)
    {
        if (_penalized)
        {
            // Frequency and presence are additive and come first, the repetition penalty scales what they leave, as
            // SGLang applies its additive penalties before its scaling ones (SamplingBatchInfo.apply_logits_bias).
            // Formulas: penaltylib/{frequency,presence,repetition}_penalty.py.
            float frequency = _parameters.FrequencyPenalty, presence = _parameters.PresencePenalty, repetition = _parameters.RepetitionPenalty;
            foreach ((int id, int count) in _outputCounts)
            {
                float logit = logits[id] - (frequency * count + presence);
                logits[id] = logit < 0 ? logit * repetition : logit / repetition;
            }
        }
        if (_generated < _parameters.MinNewTokens)
            foreach (int id in _endTokenIds) logits[id] = float.NegativeInfinity;
        // SGLang adds the bias last, after penalties and masks.
        for (int i = 0; i < _biasIds.Length; i++) logits[_biasIds[i]] += _biasValues[i];
    }

    private static int Argmax(ReadOnlySpan<float> logits)
    {
        int index = TensorPrimitives.IndexOfMax(logits);
        CheckSampleable(logits[index]);
        return index;
    }

    private int Draw(Span<float> logits, Candidate[] buffer)
    {
        float max = TensorPrimitives.Max(logits);
        CheckSampleable(max);
        float inverseTemperature = 1f / _parameters.Temperature;
        double u = _random.NextDouble();

        if (_topK > 0)
        {
            // Top-k ranks the logits themselves (ties by id); only its k tokens need weights, and the rest of the row
            // only matters for the mass top-p measures.
            Span<Candidate> top = SelectTop(logits, _topK, buffer);
            foreach (ref Candidate c in top) c = new Candidate(c.Id, MathF.Exp((c.Value - max) * inverseTemperature));
            double mass = _topP ? _parameters.TopP * SumInChunks(ToWeights(logits, max, inverseTemperature)) : double.PositiveInfinity;
            return DrawFromPrefix(top, mass, u);
        }

        Span<float> weights = ToWeights(logits, max, inverseTemperature);
        if (!_topP)
        {
            if (_parameters.MinP > 0) ZeroBelow(weights, _parameters.MinP * TensorPrimitives.Max(weights));
            return DrawFromRow(weights, u);
        }

        double nucleusMass = _parameters.TopP * SumInChunks(weights);
        // The largest weight is exp(0) = 1, so the gathering threshold is the fraction itself.
        if (TryGatherNucleus(weights, NucleusGatherFraction, nucleusMass, buffer, out Span<Candidate> nucleus))
            return DrawFromPrefix(nucleus, nucleusMass, u);
        (float edge, int edgeTokensKept, int edgeTokens) = FindNucleusEdge(weights, nucleusMass);
        float minWeight = _parameters.MinP > 0 ? _parameters.MinP * TensorPrimitives.Max(weights) : 0;
        KeepNucleus(weights, edge, edgeTokensKept, edgeTokens, minWeight);
        return DrawFromRow(weights, u);
    }

    // Candidates run from the most likely down, so min-p and top-p each keep a prefix of them; the first always stays.
    private int DrawFromPrefix(ReadOnlySpan<Candidate> candidates, double nucleusMass, double u)
    {
        float minWeight = _parameters.MinP * candidates[0].Value;
        int kept = 0;
        double massBefore = 0;
        while (kept < candidates.Length && candidates[kept].Value >= minWeight && massBefore < nucleusMass)
            massBefore += candidates[kept++].Value;
        return DrawFromCandidates(candidates[..kept], u);
    }

    // exp((logit - max) / T) in place: the softmax numerators, 1 for the most likely token. Multiplying by 1/T rather
    // than dividing by T moves a weight by at most an ulp and keeps this one pass.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Span<float> ToWeights(Span<float> logits, float max, float inverseTemperature)
    {
        Span<Vector<float>> vectors = MemoryMarshal.Cast<float, Vector<float>>(logits);
        Vector<float> shift = new(max), scale = new(inverseTemperature);
        foreach (ref Vector<float> v in vectors) v = (v - shift) * scale;
        for (int i = vectors.Length * Vector<float>.Count; i < logits.Length; i++) logits[i] = (logits[i] - max) * inverseTemperature;
        TensorPrimitives.Exp(logits, logits);
        return logits;
    }

    private static void CheckSampleable(float max)
    {
        if (!float.IsFinite(max))
            throw new ArgumentException(float.IsNaN(max) ? "The logits row has a NaN." : "The logits row has no finite logit to sample.", "logits");
    }

    // The usual, peaked distribution: the tokens above a small fraction of the largest weight are few and already hold
    // the nucleus. They are a prefix of the sorted order, so sorting just them finds it. False when they are too many
    // to sort cheaply or fall short of the nucleus (a flat distribution), which FindNucleusEdge handles instead.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryGatherNucleus(ReadOnlySpan<float> weights, float threshold, double nucleusMass, Candidate[] buffer, out Span<Candidate> nucleus)
    {
        nucleus = default;
        int count = 0;
        double mass = 0;
        var limit = new Vector<float>(threshold);
        for (int start = 0; start < weights.Length; start += Vector<float>.Count)
        {
            // Most of the row is far below the threshold: skip it a vector at a time.
            ReadOnlySpan<float> block = weights.Slice(start, Math.Min(Vector<float>.Count, weights.Length - start));
            if (block.Length == Vector<float>.Count && !Vector.GreaterThanOrEqualAny(new Vector<float>(block), limit)) continue;
            for (int j = 0; j < block.Length; j++)
            {
                if (block[j] < threshold) continue;
                if (count == SortedNucleusLimit) return false;
                buffer[count++] = new Candidate(start + j, block[j]);
                mass += block[j];
            }
        }
        if (mass < nucleusMass) return false;
        nucleus = buffer.AsSpan(0, count);
        nucleus.Sort(static (a, b) => Candidate.Compare(a, b));
        return true;
    }

    // The weight of the nucleus's last token without sorting: a radix search over the weights' bit patterns (which
    // order like the weights, all being non-negative), ten bits a pass. Each pass sums the mass of the tokens still in
    // play by their next ten bits and keeps the digit where the mass from the top reaches the nucleus. Returns that
    // edge weight, how many tokens of exactly that weight the nucleus takes (the lowest ids, as in the sorted order),
    // and how many there are.
    private static (float Edge, int EdgeTokensKept, int EdgeTokens) FindNucleusEdge(ReadOnlySpan<float> weights, double nucleusMass)
    {
        Span<double> mass = stackalloc double[1024];
        Span<int> counts = stackalloc int[1024];
        int prefix = 0, edgeTokens = 0;
        double above = 0;   // mass of the tokens heavier than every pattern with this prefix
        for (int shift = 20; shift >= 0; shift -= 10)
        {
            mass.Clear();
            counts.Clear();
            foreach (float w in weights)
            {
                int bits = BitConverter.SingleToInt32Bits(w);
                if (bits >> (shift + 10) != prefix) continue;
                int digit = (bits >> shift) & 1023;
                mass[digit] += w;
                counts[digit]++;
            }
            int chosen = -1;
            bool reached = false;
            for (int d = 1023; d >= 0 && !reached; d--)
            {
                if (counts[d] == 0) continue;
                chosen = d;
                reached = above + mass[d] >= nucleusMass;
                if (!reached) above += mass[d];
            }
            // Rounding can leave the nucleus just out of reach: then it ends at the lightest token in play.
            if (!reached) above -= mass[chosen];
            prefix = (prefix << 10) | chosen;
            edgeTokens = counts[chosen];
        }
        float edge = BitConverter.Int32BitsToSingle(prefix);
        double needed = (nucleusMass - above) / edge;
        return (edge, needed >= edgeTokens ? edgeTokens : (int)Math.Ceiling(needed), edgeTokens);
    }

    // Zeroes the weights outside the nucleus and below min-p, leaving a row to draw from.
    private static void KeepNucleus(Span<float> weights, float edge, int edgeTokensKept, int edgeTokens, float minWeight)
    {
        // Every token min-p keeps is then heavier than the edge, so in the nucleus.
        if (minWeight > edge)
        {
            ZeroBelow(weights, minWeight);
            return;
        }
        ZeroBelow(weights, edge);
        if (edgeTokensKept == edgeTokens) return;
        int seen = 0;
        for (int i = 0; i < weights.Length; i++)
            if (weights[i] == edge && seen++ >= edgeTokensKept) weights[i] = 0;
    }

    // A draw from the whole row: find the chunk where the cumulative weight passes u * total using vectorised chunk
    // sums, then walk that chunk. Sum gives the same result for the same chunk both times, so the walk lands in a
    // chunk whose own sum covers the target.
    private static int DrawFromRow(ReadOnlySpan<float> weights, double u)
    {
        double target = u * SumInChunks(weights);
        double cumulative = 0;
        for (int start = 0; start < weights.Length; start += DrawChunk)
        {
            ReadOnlySpan<float> chunk = weights.Slice(start, Math.Min(DrawChunk, weights.Length - start));
            float chunkSum = TensorPrimitives.Sum(chunk);
            if (cumulative + chunkSum > target)
            {
                int last = -1;
                for (int j = 0; j < chunk.Length; j++)
                {
                    if (chunk[j] <= 0) continue;
                    cumulative += chunk[j];
                    last = j;
                    if (cumulative > target) return start + j;
                }
                // The walk adds in another order than the vectorised sum; a target in that rounding gap takes the
                // chunk's last possible token.
                return start + last;
            }
            cumulative += chunkSum;
        }
        // u * total rounded up to total: the last possible token.
        int lastPositive = weights.Length - 1;
        while (weights[lastPositive] <= 0) lastPositive--;
        return lastPositive;
    }

    private static int DrawFromCandidates(ReadOnlySpan<Candidate> candidates, double u)
    {
        double total = 0;
        foreach (Candidate c in candidates) total += c.Value;
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            if (candidates[i].Value <= 0) continue;
            cumulative += candidates[i].Value;
            last = i;
            if (cumulative > target) return candidates[i].Id;
        }
        return candidates[last].Id;
    }

    private static double SumInChunks(ReadOnlySpan<float> weights)
    {
        double total = 0;
        for (int start = 0; start < weights.Length; start += DrawChunk)
            total += TensorPrimitives.Sum(weights.Slice(start, Math.Min(DrawChunk, weights.Length - start)));
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ZeroBelow(Span<float> weights, float threshold)
    {
        Span<Vector<float>> vectors = MemoryMarshal.Cast<float, Vector<float>>(weights);
        var limit = new Vector<float>(threshold);
        foreach (ref Vector<float> v in vectors) v = Vector.ConditionalSelect(Vector.LessThan(v, limit), Vector<float>.Zero, v);
        for (int i = vectors.Length * Vector<float>.Count; i < weights.Length; i++)
            if (weights[i] < threshold) weights[i] = 0;
    }

    // log(sum(exp(logits))), in chunks through a buffer on the stack so the row itself stays raw.
    private static float LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        Span<float> buffer = stackalloc float[DrawChunk];
        double sum = 0;
        for (int start = 0; start < logits.Length; start += DrawChunk)
        {
            ReadOnlySpan<float> chunk = logits.Slice(start, Math.Min(DrawChunk, logits.Length - start));
            Span<float> exp = buffer[..chunk.Length];
            TensorPrimitives.Subtract(chunk, max, exp);
            TensorPrimitives.Exp(exp, exp);
            sum += TensorPrimitives.Sum(exp);
        }
        return max + (float)Math.Log(sum);
    }

    private TokenLogprob[] TopLogprobs(ReadOnlySpan<float> raw, float logNormalizer, Candidate[] buffer)
    {
        Span<Candidate> top = SelectTop(raw, _parameters.TopLogprobsNum, buffer);
        var result = new TokenLogprob[top.Length];
        for (int i = 0; i < top.Length; i++) result[i] = new TokenLogprob(top[i].Id, top[i].Value - logNormalizer);
        return result;
    }

    // The k largest values, sorted from the largest down (ties: lower id first), by a heap of k whose root is the
    // worst kept value: one comparison per value once it is full, and no sort of the whole row.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Span<Candidate> SelectTop(ReadOnlySpan<float> values, int k, Candidate[] buffer)
    {
        Span<Candidate> heap = buffer.AsSpan(0, Math.Min(k, values.Length));
        for (int i = 0; i < heap.Length; i++) heap[i] = new Candidate(i, values[i]);
        for (int i = heap.Length / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int start = heap.Length; start < values.Length; start += Vector<float>.Count)
        {
            // Once the heap holds good values, whole vectors fall below its root: skip them at once.
            ReadOnlySpan<float> block = values.Slice(start, Math.Min(Vector<float>.Count, values.Length - start));
            if (block.Length == Vector<float>.Count && !Vector.GreaterThanAny(new Vector<float>(block), new Vector<float>(heap[0].Value))) continue;
            for (int j = 0; j < block.Length; j++)
            {
                // A later value equal to the root has a larger id, so it is worse and stays out.
                if (!(block[j] > heap[0].Value)) continue;
                heap[0] = new Candidate(start + j, block[j]);
                SiftDown(heap, 0);
            }
        }
        // Heap sort: moving the worst to the back in turn leaves the best at the front.
        for (int end = heap.Length - 1; end > 0; end--)
        {
            (heap[0], heap[end]) = (heap[end], heap[0]);
            SiftDown(heap[..end], 0);
        }
        return heap;
    }

    private static void SiftDown(Span<Candidate> heap, int i)
    {
        while (true)
        {
            int worst = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && Candidate.Compare(heap[left], heap[worst]) > 0) worst = left;
            if (right < heap.Length && Candidate.Compare(heap[right], heap[worst]) > 0) worst = right;
            if (worst == i) return;
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }

    private static void CheckTokenId(int id, int vocabSize, string paramName)
    {
        if ((uint)id >= (uint)vocabSize)
            throw new ArgumentOutOfRangeException(paramName, id, $"Token ids must be in [0, {vocabSize - 1}].");
    }

    /// <summary>A token id with a logit or a weight.</summary>
    private readonly record struct Candidate(int Id, float Value)
    {
        // Negative when a ranks before b: the larger value first, the lower id on a tie.
        public static int Compare(Candidate a, Candidate b) =>
            a.Value > b.Value ? -1 : a.Value < b.Value ? 1 : a.Id.CompareTo(b.Id);
    }

    /// <summary>
    /// Vocabulary-sized buffers, one set per thread rather than per request: a thousand queued requests must not
    /// hold a thousand copies, and a sampler never keeps anything in them between calls.
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? t_current;

        private float[]? _raw;
        private Candidate[] _candidates = [];

        /// <summary>The raw logits row, kept for logprobs.</summary>
        public float[] Raw => _raw ??= new float[_candidates.Length];

        /// <summary>Top-k, nucleus and top-logprob candidates.</summary>
        public Candidate[] Candidates => _candidates;

        public static Scratch For(int vocabSize)
        {
            Scratch scratch = t_current ??= new Scratch();
            if (scratch._candidates.Length < vocabSize)
            {
                scratch._candidates = new Candidate[vocabSize];
                scratch._raw = null;
            }
            return scratch;
        }
    }
}
