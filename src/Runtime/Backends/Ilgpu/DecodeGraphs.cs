namespace Specialized.Backends.Ilgpu;

/// <summary>
/// Decode steps run as recorded CUDA graphs, SGLang's CUDA-graph runner in our terms. A decode step (one token and
/// one logit row per sequence) is padded to the next of a few batch sizes with sequences of one token at position 0
/// that live in a scratch KV page no request owns; its attention plans its key ranges for a power-of-two context
/// bucket at least as long as the batch's longest. Every kernel argument is then a function of (padded size, context
/// bucket), so one graph per pair serves every later step that maps to it, with only the step's index arrays
/// uploaded first. The real rows come first: logits and argmax read rows 0 .. n-1 as without padding.
/// </summary>
internal sealed class DecodeGraphs : IDisposable
{
    /// <summary>The shortest context bucket: below it attention never splits its keys.</summary>
    public const int MinContextBucket = 64;

    private readonly int[] _sizes;
    private readonly int _scratchPage;
    private readonly Dictionary<(int Size, int Context), CudaGraph> _graphs = [];
    private int _generation;

    /// <param name="maxBatch">The largest decode batch replayed; larger ones run launch by launch.</param>
    /// <param name="scratchPage">A KV page outside the pool, where padding sequences write and read.</param>
    public DecodeGraphs(int maxBatch, int scratchPage)
    {
        _sizes = BatchSizes(maxBatch);
        _scratchPage = scratchPage;
    }

    /// <summary>The padded sizes: 1, 2, 4, 8, then every multiple of 8 up to the largest (SGLang's capture sizes).</summary>
    public static int[] BatchSizes(int maxBatch)
    {
        var sizes = new List<int>();
        for (int s = 1; s <= Math.Min(8, maxBatch); s *= 2) sizes.Add(s);
        for (int s = 16; s <= maxBatch; s += 8) sizes.Add(s);
        if (sizes.Count == 0 || sizes[^1] != maxBatch) sizes.Add(maxBatch);
        return [.. sizes];
    }

    /// <summary>Whether <paramref name="batch"/> is a decode step this replays: one token and one logit row per sequence, in order.</summary>
    public bool Serves(ForwardBatch batch)
    {
        int n = batch.TokenCount;
        if (n != batch.SequenceCount || batch.LogitRows.Length != n || n > _sizes[^1]) return false;
        for (int i = 0; i < n; i++)
        {
            if (batch.LogitRows[i] != i) return false;
        }
        return true;
    }

    /// <summary>The smallest padded size that holds <paramref name="tokens"/>.</summary>
    public int PaddedSize(int tokens)
    {
        foreach (int s in _sizes)
        {
            if (s >= tokens) return s;
        }
        throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"Decode graphs hold batches of at most {_sizes[^1]}.");
    }

    /// <summary>The power of two (at least <see cref="MinContextBucket"/>) attention plans a step's key ranges for.</summary>
    public static int ContextBucket(int longestContext) => Math.Max(MinContextBucket, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)longestContext));

    /// <summary><paramref name="batch"/> and, after it, padding sequences up to <paramref name="size"/>.</summary>
    public ForwardBatch Pad(ForwardBatch batch, int size)
    {
        int n = batch.TokenCount;
        if (size == n) return batch;
        var tokens = new int[size];
        var positions = new int[size];
        var starts = new int[size + 1];
        var cached = new int[size];
        var pages = new int[size][];
        var rows = new int[size];
        batch.TokenIds.CopyTo(tokens, 0);
        batch.Positions.CopyTo(positions, 0);
        batch.CachedLengths.CopyTo(cached, 0);
        batch.PageTables.CopyTo(pages, 0);
        int[] scratch = [_scratchPage];
        for (int i = 0; i < size; i++)
        {
            starts[i] = i;
            rows[i] = i;
            if (i >= n) pages[i] = scratch;
        }
        starts[size] = size;
        return new ForwardBatch(tokens, positions, starts, cached, pages, batch.PageSize, rows);
    }

    /// <summary>
    /// The graph for (<paramref name="size"/>, <paramref name="context"/>), recorded by <paramref name="record"/> when
    /// there is none yet. <paramref name="generation"/> is the batch buffer's: when it moved, every graph is stale.
    /// </summary>
    public CudaGraph Get(int size, int context, int generation, Func<CudaGraph> record)
    {
        if (generation != _generation)
        {
            Clear();
            _generation = generation;
        }
        if (!_graphs.TryGetValue((size, context), out CudaGraph? graph))
        {
            graph = record();
            _graphs[(size, context)] = graph;
        }
        return graph;
    }

    private void Clear()
    {
        foreach (CudaGraph g in _graphs.Values) g.Dispose();
        _graphs.Clear();
    }

    public void Dispose() => Clear();
}
