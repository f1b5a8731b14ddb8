namespace Specialized.Backends;

/// <summary>
/// One forward step's input, as the scheduler hands it to the model runner: the tokens of several sequences laid
/// end to end, where each sequence's tokens extend what its KV cache already holds (a prefill chunk, or one
/// decode token), the KV pages each sequence owns, and the rows that need logits.
/// </summary>
public sealed class ForwardBatch
{
    public ForwardBatch(int[] tokenIds, int[] positions, int[] sequenceStarts, int[] cachedLengths,
        int[][] pageTables, int pageSize, int[] logitRows)
    {
        if (positions.Length != tokenIds.Length) throw new ArgumentException("Every token needs a position.", nameof(positions));
        if (sequenceStarts.Length != cachedLengths.Length + 1 || sequenceStarts[0] != 0 || sequenceStarts[^1] != tokenIds.Length)
        {
            throw new ArgumentException("sequenceStarts must hold one offset per sequence plus the token count.", nameof(sequenceStarts));
        }
        if (pageTables.Length != cachedLengths.Length) throw new ArgumentException("Every sequence needs a page table.", nameof(pageTables));
        if (pageSize <= 0) throw new ArgumentOutOfRangeException(nameof(pageSize));
        TokenIds = tokenIds;
        Positions = positions;
        SequenceStarts = sequenceStarts;
        CachedLengths = cachedLengths;
        PageTables = pageTables;
        PageSize = pageSize;
        LogitRows = logitRows;
        TokenSequence = new int[tokenIds.Length];
        for (int s = 0; s < cachedLengths.Length; s++)
        {
            if (sequenceStarts[s + 1] < sequenceStarts[s]) throw new ArgumentException("sequenceStarts must not decrease.", nameof(sequenceStarts));
            for (int t = sequenceStarts[s]; t < sequenceStarts[s + 1]; t++) TokenSequence[t] = s;
        }
        foreach (int row in logitRows)
        {
            if ((uint)row >= (uint)tokenIds.Length) throw new ArgumentException($"Logit row {row} is outside the batch.", nameof(logitRows));
        }
    }

    /// <summary>Token ids of the batch, sequences laid end to end. Length T.</summary>
    public int[] TokenIds { get; }

    /// <summary>Position of each token in its sequence. Length T.</summary>
    public int[] Positions { get; }

    /// <summary>Offset of each sequence's first token in the batch, plus T at the end. Length S + 1.</summary>
    public int[] SequenceStarts { get; }

    /// <summary>Tokens of each sequence already in the KV cache before this step (the cached prefix). Length S.</summary>
    public int[] CachedLengths { get; }

    /// <summary>The KV pages of each sequence, in position order. Length S.</summary>
    public int[][] PageTables { get; }

    /// <summary>Tokens per KV page.</summary>
    public int PageSize { get; }

    /// <summary>Batch rows whose logits are wanted (usually each sequence's last token).</summary>
    public int[] LogitRows { get; }

    /// <summary>The sequence each token belongs to. Length T.</summary>
    public int[] TokenSequence { get; }

    /// <summary>The KV cache slot (page x page size + offset) that holds position <paramref name="position"/> of a sequence.</summary>
    public int Slot(int sequence, int position) => PageTables[sequence][position / PageSize] * PageSize + position % PageSize;

    public int TokenCount => TokenIds.Length;

    public int SequenceCount => CachedLengths.Length;
}
