namespace Specialized.Tests.Engine;

/// <summary>Many callers on many threads, cancellations and shutdown: nothing lost, nothing leaked, nothing hangs.</summary>
public sealed class EngineConcurrencyTests
{
    private static readonly int[][] Prompts = Enumerable.Range(0, 10)
        .Select(i => Enumerable.Range(0, 3 + 2 * i).Select(j => (i * 37 + j * 11) % 384).ToArray()).ToArray();

    private static SamplingParams Greedy(int n) => new() { Temperature = 0, MaxNewTokens = n, IgnoreEos = true };

    private static Specialized.Engine Create() =>
        Specialized.Engine.Create(HfModels.Folder("gqa"), new EngineOptions { Device = "cpu", MaxTotalTokens = 1024, PageSize = 4, MaxRunningRequests = 16 });

    [Fact]
    public async Task Two_hundred_requests_from_eight_threads_some_cancelled()
    {
        using var engine = Create();
        int[][] expected = Prompts.Select(p => engine.Generate(p, Greedy(10)).OutputIds.ToArray()).ToArray();

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        int cancelled = 0, finished = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(thread => Task.Run(async () =>
        {
            for (int i = 0; i < 25; i++)
            {
                int which = (thread * 25 + i) % Prompts.Length;
                bool cancel = (thread * 25 + i) % 5 == 0;
                using var cts = new CancellationTokenSource();
                if (cancel) cts.CancelAfter(TimeSpan.FromMilliseconds(5 + i % 7));
                try
                {
                    GenerateOutput output = await engine.GenerateAsync(Prompts[which], Greedy(cancel ? 400 : 10), cts.Token);
                    if (!cancel && !output.OutputIds.SequenceEqual(expected[which])) failures.Add($"request {thread}/{i} differs");
                    Interlocked.Increment(ref finished);
                }
                catch (OperationCanceledException) when (cancel)
                {
                    Interlocked.Increment(ref cancelled);
                }
            }
        })));

        Assert.Empty(failures);
        Assert.Equal(200, cancelled + finished);
        Assert.True(cancelled > 0, "no request was cancelled midway");
        EngineBatchingTests.AssertNoLeaks(engine);
    }

    [Fact]
    public async Task Disposing_while_requests_run_aborts_them_and_returns()
    {
        var engine = Create();
        var running = Enumerable.Range(0, 20).Select(i => engine.GenerateAsync(Prompts[i % Prompts.Length], Greedy(200))).ToList();
        await Task.Delay(50);
        engine.Dispose();
        GenerateOutput[] outputs = await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(outputs, o => o.MetaInfo.FinishReason!.Type == FinishType.Abort);
        Assert.All(outputs.Where(o => o.MetaInfo.FinishReason!.Type == FinishType.Abort),
            o => Assert.Equal("the engine shut down", o.MetaInfo.FinishReason!.Message));
        Assert.Throws<ObjectDisposedException>(() => engine.Generate(Prompts[0], Greedy(1)));
    }

    [Fact]
    public async Task A_cancelled_stream_throws_and_frees_its_kv()
    {
        using var engine = Create();
        using var cts = new CancellationTokenSource();
        int chunks = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StreamChunk chunk in engine.GenerateStreamAsync(Prompts[3], Greedy(300), cts.Token))
            {
                if (++chunks == 3) cts.Cancel();
            }
        });
        Assert.Equal(3, chunks);
        EngineBatchingTests.AssertNoLeaks(engine);
    }
}
