using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Specialized.Backends;
using Specialized.Memory;
using Specialized.Sampling;

namespace Specialized.Scheduling;

/// <summary>
/// What a scheduler is sized for. <paramref name="PrefillTokens"/> caps the prompt tokens of a step, as SGLang's
/// chunked_prefill_size caps those of a prefill forward. SGLang runs decodes in steps of their own by default (with
/// enable_mixed_chunk they ride along and take their tokens out of the chunk); every step here mixes them in, and each
/// decoding request's one token comes on top of the chunk, so a long prompt is cut into the same chunks however many
/// requests decode. Context length needs no field: each request's MaxNewTokens is already clamped to it.
/// </summary>
internal sealed record SchedulerLimits(int MaxRunningRequests, int PrefillTokens, bool RadixCache)
{
    /// <summary>The most tokens one step can hold: a full prefill chunk beside one decode token per running request.</summary>
    public int StepTokens => PrefillTokens + MaxRunningRequests;
}

/// <summary>
/// SGLang's scheduler in one thread: continuous batching over a paged KV pool with a radix prefix cache. Every step
/// runs one forward over a mixed batch: one token for each decoding request, then prompt chunks of requests still
/// prefilling, then newly admitted requests, up to the prefill budget (chunked prefill). Requests join and leave at
/// every step. When the pool runs dry the prefix cache gives back its least recently used pages first; if that is not
/// enough, the newest requests are retracted (their KV handed to the cache) and re-queued at the front.
/// </summary>
internal sealed class Scheduler : IDisposable
{
    private readonly IModelRunner _runner;
    private readonly SchedulerLimits _limits;
    private readonly KvPagePool _pool;
    private readonly RadixCache _cache;
    private readonly int _pageSize;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Request> _incoming = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly LinkedList<Request> _waiting = new();
    private readonly List<Request> _running = [];
    private readonly Thread _thread;
    private volatile bool _stopping;

    // Totals since start, written only by the scheduler thread (before a request completes, so a caller that saw its
    // request end sees them counted) and read by any thread: one plain add per step or per token, no locks.
    private long _promptTokens, _generatedTokens, _finishedRequests;
    private volatile ThroughputMark _throughputBase, _throughputMark;

    public Scheduler(IModelRunner runner, SchedulerLimits limits, ILogger logger)
    {
        _runner = runner;
        _limits = limits;
        _logger = logger;
        _pageSize = runner.Options.Kv.PageSize;
        _pool = new KvPagePool(runner.Options.Kv.NumPages);
        _cache = new RadixCache(_pool, _pageSize);
        _throughputBase = _throughputMark = new ThroughputMark(Stopwatch.GetTimestamp(), 0, 0);
        _thread = new Thread(Loop) { IsBackground = true, Name = "Specialized scheduler" };
        _thread.Start();
    }

    public KvPagePool Pool => _pool;

    public RadixCache Cache => _cache;

    /// <summary>Requests taken off to free KV pages and re-queued, since start (SGLang's num_retractions).</summary>
    public int Retractions { get; private set; }

    /// <summary>Requests queued or running, as last seen by the scheduler thread.</summary>
    public int Pending => _incoming.Count + _waiting.Count + _running.Count;

    /// <summary>Requests submitted and not yet running (including ones the scheduler thread has not picked up).</summary>
    public int Queued => _incoming.Count + _waiting.Count;

    public int Running => _running.Count;

    /// <summary>Tokens computed for prompts (and for re-prefilling retracted requests) since start.</summary>
    public long PromptTokens => Volatile.Read(ref _promptTokens);

    /// <summary>Tokens sampled since start: the sum of every request's output ids.</summary>
    public long GeneratedTokens => Volatile.Read(ref _generatedTokens);

    /// <summary>Requests that ended in the scheduler, for any reason.</summary>
    public long FinishedRequests => Volatile.Read(ref _finishedRequests);

    /// <summary>The counts some seconds ago (between one and two <see cref="ThroughputWindow"/>s), to take rates from.</summary>
    public ThroughputMark ThroughputBase => _throughputBase;

    /// <summary>Rates are averaged over at least this long, so one step's burst does not read as the throughput.</summary>
    public static readonly TimeSpan ThroughputWindow = TimeSpan.FromSeconds(5);

    public void Submit(Request request)
    {
        if (_stopping) throw new ObjectDisposedException(nameof(Engine), "The engine is shut down.");
        _incoming.Enqueue(request);
        if (request.CancellationToken.CanBeCanceled) request.Registration = request.CancellationToken.Register(() => _signal.Release());
        _signal.Release();
    }

    private void Loop()
    {
        while (!_stopping)
        {
            MarkThroughput();
            Admit();
            Step? step = _running.Count > 0 || _waiting.Count > 0 ? Plan() : null;
            if (step is null)
            {
                _signal.Wait(TimeSpan.FromMilliseconds(100));
                continue;
            }
            try
            {
                Run(step);
            }
            catch (Exception e) when (!_stopping)
            {
                // A failed step loses the KV it was writing; the requests in it end, the engine keeps serving.
                _logger.LogError(e, "A forward step failed; aborting its {Count} requests", step.Requests.Count);
                foreach (Request r in step.Requests.Where(_running.Contains))
                {
                    _running.Remove(r);
                    ReleaseKv(r);
                    End(r, new FinishReason(FinishType.Abort, Message: $"internal error: {e.Message}"));
                }
            }
        }
        ShutDown();
    }

    /// <summary>Every window, the current totals become a mark and the previous mark the base rates are measured from.</summary>
    private void MarkThroughput()
    {
        long now = Stopwatch.GetTimestamp();
        if (Stopwatch.GetElapsedTime(_throughputMark.Timestamp, now) < ThroughputWindow) return;
        _throughputBase = _throughputMark;
        _throughputMark = new ThroughputMark(now, _promptTokens, _generatedTokens);
    }

    /// <summary>Moves new requests into the waiting queue and ends cancelled ones wherever they are.</summary>
    private void Admit()
    {
        while (_incoming.TryDequeue(out Request? r)) _waiting.AddLast(r);
        for (LinkedListNode<Request>? node = _waiting.First; node is not null;)
        {
            LinkedListNode<Request>? next = node.Next;
            if (node.Value.CancellationToken.IsCancellationRequested)
            {
                _waiting.Remove(node);
                Cancel(node.Value);
            }
            node = next;
        }
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            if (_running[i].CancellationToken.IsCancellationRequested) Cancel(_running[i]);
        }
    }

    /// <summary>One forward step; <paramref name="PrefillTokens"/> are its tokens other than the one fed back by each decoding request.</summary>
    private sealed record Step(List<Request> Requests, List<int> Counts, ForwardBatch Batch, List<Request> Sampled, bool WantHidden, int PrefillTokens);

    /// <summary>Chooses this step's requests and token counts, securing KV pages for them.</summary>
    private Step? Plan()
    {
        int budget = _limits.PrefillTokens;
        var requests = new List<Request>();
        var counts = new List<int>();

        // Decodes first (one token each, outside the prefill budget), then the prefills already under way, oldest first.
        foreach (Request r in _running.OrderBy(r => r.IsDecoding ? 0 : 1).ToList())
        {
            if (!_running.Contains(r)) continue;  // retracted to make room for an earlier one
            bool decoding = r.IsDecoding;
            int take = decoding ? 1 : Math.Min(r.TotalTokens - r.ComputedTokens, budget);
            if (take <= 0) continue;
            if (!Reserve(r, take, requests))
            {
                if (_running.Count == 1)
                {
                    // Alone and still out of pages: this request can never fit the KV cache.
                    _running.Remove(r);
                    ReleaseKv(r);
                    End(r, TooLargeForKvCache(r));
                }
                continue;
            }
            requests.Add(r);
            counts.Add(take);
            if (!decoding) budget -= take;
        }

        // Then new requests, while the budget, the request limit and the KV pool allow.
        while (budget > 0 && _running.Count < _limits.MaxRunningRequests && _waiting.First is { } first)
        {
            Request r = first.Value;
            if (r.LockedNode is null && r.ComputedTokens == 0) MatchPrefix(r);
            int take = Math.Min(r.TotalTokens - r.ComputedTokens, budget);
            if (!Reserve(r, take, retractable: null))
            {
                if (_running.Count == 0 && requests.Count == 0)
                {
                    _waiting.RemoveFirst();
                    ReleaseKv(r);
                    End(r, TooLargeForKvCache(r));
                    continue;
                }
                break;
            }
            _waiting.RemoveFirst();
            _running.Add(r);
            requests.Add(r);
            counts.Add(take);
            budget -= take;
        }
        if (requests.Count == 0) return null;
        return Build(requests, counts);
    }

    private FinishReason TooLargeForKvCache(Request r) => new(FinishType.Abort,
        Message: $"the request needs {r.TotalTokens} tokens of KV cache but the cache holds {_pool.TotalPages * _pageSize}");

    /// <summary>The longest cached prefix becomes the request's first pages (leaving at least one token to compute).</summary>
    private void MatchPrefix(Request r)
    {
        if (!_limits.RadixCache || r.Parameters.ReturnHiddenStates) return;
        PrefixMatch match = _cache.Match(r.Tokens(0, r.TotalTokens - 1));
        if (match.Tokens == 0) return;
        _cache.Lock(match.Node);
        r.LockedNode = match.Node;
        r.SharedPages = match.Pages.Length;
        r.Pages.AddRange(match.Pages);
        r.ComputedTokens = match.Tokens;
        r.CachedTokens = Math.Min(match.Tokens, r.PromptIds.Length);
    }

    /// <summary>
    /// Makes sure <paramref name="r"/> has pages for <paramref name="take"/> more tokens: from the pool, then by
    /// evicting the prefix cache, then (when <paramref name="retractable"/> is given) by retracting running requests
    /// newer than <paramref name="r"/> that are not in this step yet.
    /// </summary>
    private bool Reserve(Request r, int take, List<Request>? retractable)
    {
        int needed = (r.ComputedTokens + take + _pageSize - 1) / _pageSize - r.Pages.Count;
        if (needed <= 0) return true;
        while (true)
        {
            if (_pool.FreePages < needed) _cache.Evict(needed - _pool.FreePages);
            var pages = new List<int>(needed);
            if (_pool.TryAllocate(needed, pages))
            {
                r.Pages.AddRange(pages);
                return true;
            }
            if (retractable is null) return false;
            Request? victim = _running.LastOrDefault(v => v != r && !retractable.Contains(v));
            if (victim is null) return false;
            Retract(victim);
        }
    }

    /// <summary>Takes a running request off the GPU: its KV goes to the prefix cache, it waits at the front of the queue.</summary>
    private void Retract(Request r)
    {
        _running.Remove(r);
        ReleaseKv(r);
        _waiting.AddFirst(r);
        Retractions++;
        _logger.LogDebug("Retracted {Id} at {Tokens} tokens to free KV pages", r.Id, r.TotalTokens);
    }

    private Step Build(List<Request> requests, List<int> counts)
    {
        int total = counts.Sum();
        var tokens = new int[total];
        var positions = new int[total];
        var starts = new int[requests.Count + 1];
        var cached = new int[requests.Count];
        var pageTables = new int[requests.Count][];
        var logitRows = new List<int>();
        var sampled = new List<Request>();
        bool wantHidden = false;
        int at = 0, prefill = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            Request r = requests[i];
            int n = counts[i];
            starts[i] = at;
            cached[i] = r.ComputedTokens;
            pageTables[i] = r.Pages.ToArray();
            for (int j = 0; j < n; j++)
            {
                tokens[at + j] = r.TokenAt(r.ComputedTokens + j);
                positions[at + j] = r.ComputedTokens + j;
            }
            if (r.ComputedTokens + n == r.TotalTokens)
            {
                logitRows.Add(at + n - 1);
                sampled.Add(r);
            }
            wantHidden |= r.HiddenStates is not null;
            prefill += r.IsDecoding ? 0 : n;
            at += n;
        }
        starts[^1] = total;
        var batch = new ForwardBatch(tokens, positions, starts, cached, pageTables, _pageSize, [.. logitRows]);
        return new Step(requests, counts, batch, sampled, wantHidden, prefill);
    }

    private void Run(Step step)
    {
        if (!step.WantHidden && step.Sampled.All(r => r.Sampler.IsPlainGreedy))
        {
            // Every token of this step is an argmax: pick them on the device and skip copying logits.
            ReadOnlyMemory<int> picked = _runner.ForwardGreedy(step.Batch);
            _promptTokens += step.PrefillTokens;
            for (int i = 0; i < step.Requests.Count; i++) step.Requests[i].ComputedTokens += step.Counts[i];
            for (int i = 0; i < step.Sampled.Count; i++)
            {
                Request r = step.Sampled[i];
                int token = picked.Span[i];
                r.Sampler.Accept(token);
                r.OutputIds.Add(token);
                _generatedTokens++;
                Emit(r, token);
            }
            return;
        }

        ForwardOutput output = _runner.Forward(step.Batch, step.WantHidden);
        _promptTokens += step.PrefillTokens;
        int vocab = _runner.Spec.VocabSize, hidden = _runner.Spec.HiddenSize;
        for (int i = 0; i < step.Requests.Count; i++)
        {
            Request r = step.Requests[i];
            if (r.HiddenStates is not null) KeepHidden(r, output.HiddenStates.Span, step.Batch.SequenceStarts[i], step.Counts[i], hidden);
            r.ComputedTokens += step.Counts[i];
        }

        var logits = System.Runtime.InteropServices.MemoryMarshal.AsMemory(output.Logits);
        for (int i = 0; i < step.Sampled.Count; i++)
        {
            Request r = step.Sampled[i];
            SampledToken token = r.Sampler.Sample(logits.Span.Slice(i * vocab, vocab));
            r.Sampler.Accept(token.TokenId);
            r.OutputIds.Add(token.TokenId);
            r.Logprobs?.Add(new TokenLogprob(token.TokenId, token.Logprob));
            r.TopLogprobs?.Add(token.TopLogprobs ?? []);
            _generatedTokens++;
            Emit(r, token.TokenId);
        }
    }

    /// <summary>
    /// Keeps the rows of positions not kept yet, in SGLang's layout: prompt positions in element 0 (one chunk after
    /// another), then one element per output token fed back. A retracted request computes its tokens again from
    /// position 0 (it takes no prefix-cache hit), so rows it already has are skipped rather than kept twice.
    /// </summary>
    private static void KeepHidden(Request r, ReadOnlySpan<float> states, int start, int count, int width)
    {
        List<float[][]> kept = r.HiddenStates!;
        int keptPositions = kept.Count == 0 ? 0 : kept[0].Length + kept.Count - 1;
        int first = Math.Max(r.ComputedTokens, keptPositions), end = r.ComputedTokens + count;
        int rowOf = start - r.ComputedTokens;  // batch row of position p: rowOf + p

        int promptEnd = Math.Min(end, r.PromptIds.Length);
        if (first < promptEnd)
        {
            var rows = new float[promptEnd - first][];
            for (int p = first; p < promptEnd; p++) rows[p - first] = states.Slice((rowOf + p) * width, width).ToArray();
            if (kept.Count == 0) kept.Add(rows);
            else kept[0] = [.. kept[0], .. rows];
        }
        for (int p = Math.Max(first, r.PromptIds.Length); p < end; p++) kept.Add([states.Slice((rowOf + p) * width, width).ToArray()]);
    }

    /// <summary>Turns a new token into text and a stream chunk, and ends the request if it should stop.</summary>
    private void Emit(Request r, int token)
    {
        string delta = "";
        bool stopToken = r.StopTokenIds.Contains(token);
        FinishReason? finish = stopToken ? new FinishReason(FinishType.Stop, Matched: token) : null;
        if (r.Detokenizer is not null)
        {
            // A matched stop token's own text is trimmed, as SGLang does, unless NoStopTrim.
            string text = stopToken && !r.Parameters.NoStopTrim ? "" : r.Detokenizer.Add(token);
            if (r.StopMatcher is not null)
            {
                text = r.StopMatcher.Append(text);
                if (finish is null && r.StopMatcher.Matched is string stop)
                {
                    finish = new FinishReason(FinishType.Stop, Matched: stop);
                    if (r.Parameters.NoStopTrim) text += stop;
                }
            }
            delta = text;
        }
        if (finish is null && r.OutputIds.Count >= r.MaxNewTokens) finish = new FinishReason(FinishType.Length);
        if (finish is not null && finish.Matched is not string) delta += FlushText(r);

        r.Text.Append(delta);
        if (finish is null) r.Stream?.Write(new StreamChunk { TextDelta = delta, NewOutputIds = [token], MetaInfo = r.Meta(null), Index = r.Index });
        else
        {
            _running.Remove(r);
            ReleaseKv(r);
            End(r, finish, delta, [token]);
        }
    }

    private static string FlushText(Request r)
    {
        if (r.Detokenizer is null) return "";
        string rest = r.Detokenizer.Flush();
        if (r.StopMatcher is null) return rest;
        return r.StopMatcher.Append(rest) + (r.StopMatcher.Matched is null ? r.StopMatcher.Flush() : "");
    }

    /// <summary>Gives up a request's KV: whole pages to the prefix cache (or the pool), the partial last page to the pool.</summary>
    private void ReleaseKv(Request r)
    {
        int full = Math.Min(r.ComputedTokens / _pageSize, r.Pages.Count);
        if (_limits.RadixCache && full > 0)
        {
            _cache.Insert(r.Tokens(0, full * _pageSize), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Pages)[..full]);
            _pool.Free(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Pages)[full..]);
        }
        else
        {
            // Pages shared with the prefix cache stay the cache's; only the request's own go back.
            _pool.Free(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Pages)[r.SharedPages..]);
        }
        if (r.LockedNode is not null) _cache.Unlock(r.LockedNode);
        r.LockedNode = null;
        r.SharedPages = 0;
        r.Pages.Clear();
        r.ComputedTokens = 0;
    }

    private void Cancel(Request r)
    {
        _running.Remove(r);
        ReleaseKv(r);
        _finishedRequests++;
        r.CompleteCancelled();
    }

    private void End(Request r, FinishReason finish, string delta = "", IReadOnlyList<int>? ids = null)
    {
        _finishedRequests++;
        r.Complete(finish, delta, ids);
    }

    /// <summary>Ends every request the engine still holds with an abort, so no caller waits forever.</summary>
    private void ShutDown()
    {
        while (_incoming.TryDequeue(out Request? r)) _waiting.AddLast(r);
        var shutdown = new FinishReason(FinishType.Abort, Message: "the engine shut down");
        foreach (Request r in _running.ToList())
        {
            _running.Remove(r);
            ReleaseKv(r);
            End(r, shutdown);
        }
        foreach (Request r in _waiting) End(r, shutdown);
        _waiting.Clear();
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _signal.Release();
        _thread.Join();
        // A Submit racing with shutdown may have queued after the thread's last look.
        var shutdown = new FinishReason(FinishType.Abort, Message: "the engine shut down");
        while (_incoming.TryDequeue(out Request? r)) End(r, shutdown);
        _signal.Dispose();
    }
}

/// <summary>The scheduler's totals at one moment, from which throughput over the time since is computed.</summary>
internal sealed record ThroughputMark(long Timestamp, long PromptTokens, long GeneratedTokens);
