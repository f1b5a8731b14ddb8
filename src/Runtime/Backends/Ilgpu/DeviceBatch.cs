using ILGPU;
using ILGPU.Runtime;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// The device copy of a <see cref="ForwardBatch"/>'s index arrays, packed end to end into one buffer and uploaded in
/// one copy per step (each copy costs the host tens of microseconds), then reused by every kernel of the step. The
/// page tables come last, so every other section's address depends only on the batch's token, sequence, logit-row and
/// block counts: a recorded CUDA graph of a decode step stays valid for every later batch of its size. The buffer
/// grows when a batch outgrows it, which moves it: <see cref="Generation"/> counts the moves.
/// </summary>
internal sealed class DeviceBatch : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly int _attentionBlockTokens, _tensorCoreBlockTokens;
    private readonly bool _decodeBlocks;
    private MemoryBuffer1D<int, Stride1D.Dense> _buffer;
    private int[] _host = new int[64];
    private ForwardBatch? _current;

    /// <param name="attentionBlockTokens">The most tokens of one sequence an attention block takes.</param>
    /// <param name="tensorCoreBlockTokens">
    /// The same for the tensor-core attention's blocks, listed apart; 0 where that kernel is not loaded (no list).
    /// </param>
    /// <param name="decodeBlocks">
    /// Whether the sequences that bring one token are listed apart, for the decode attention (<see cref="DecodeBlocks"/>);
    /// the tensor-core list then holds the others only.
    /// </param>
    /// <param name="initialLength">Ints to allocate up front, so that usual batches never move the buffer.</param>
    public DeviceBatch(Accelerator accelerator, int attentionBlockTokens, int tensorCoreBlockTokens, bool decodeBlocks, long initialLength)
    {
        _accelerator = accelerator;
        _attentionBlockTokens = attentionBlockTokens;
        _tensorCoreBlockTokens = tensorCoreBlockTokens;
        _decodeBlocks = decodeBlocks;
        _buffer = accelerator.Allocate1D<int>(Math.Max(64, initialLength));
    }

    /// <summary>How many times the buffer has moved; device addresses taken before a move are stale.</summary>
    public int Generation { get; private set; }

    public ArrayView<int> TokenIds { get; private set; }
    public ArrayView<int> Positions { get; private set; }
    public ArrayView<int> Slots { get; private set; }
    public ArrayView<int> TokenSequence { get; private set; }
    public ArrayView<int> PageTable { get; private set; }
    public ArrayView<int> PageOffsets { get; private set; }
    public ArrayView<int> LogitRows { get; private set; }

    /// <summary>(first token, token count) pairs: each sequence's tokens in runs of at most the block size.</summary>
    public ArrayView<int> AttentionBlocks { get; private set; }

    public int AttentionBlockCount { get; private set; }

    /// <summary>
    /// The same runs for the tensor-core attention, of its block size (empty where it is not loaded): with decode
    /// blocks listed apart, only of the sequences that bring two tokens or more.
    /// </summary>
    public ArrayView<int> TensorCoreAttentionBlocks { get; private set; }

    public int TensorCoreAttentionBlockCount { get; private set; }

    /// <summary>(token, 1) for each sequence that brings one token, where decode blocks are listed apart (else empty).</summary>
    public ArrayView<int> DecodeBlocks { get; private set; }

    public int DecodeBlockCount { get; private set; }

    /// <summary>The longest context of the batch's sequences: cached tokens plus this step's.</summary>
    public int LongestContext { get; private set; }

    /// <summary>Makes <paramref name="batch"/> the current one, uploading its arrays if it is not already.</summary>
    public void Use(ForwardBatch batch, AcceleratorStream stream)
    {
        if (ReferenceEquals(batch, _current)) return;
        int tokens = batch.TokenCount, sequences = batch.SequenceCount;
        int pages = 0, longest = 0;
        for (int s = 0; s < sequences; s++)
        {
            longest = Math.Max(longest, batch.CachedLengths[s] + batch.SequenceStarts[s + 1] - batch.SequenceStarts[s]);
            pages += batch.PageTables[s].Length;
        }
        // Which sequences each list takes, by the tokens they bring: all, or with decode blocks apart 2+ and exactly 1.
        int multiFrom = _decodeBlocks ? 2 : 1;
        int blocks = BlockCount(batch, _attentionBlockTokens, 1, int.MaxValue);
        int tensorCoreBlocks = BlockCount(batch, _tensorCoreBlockTokens, multiFrom, int.MaxValue);
        int decodeBlocks = _decodeBlocks ? BlockCount(batch, 1, 1, 1) : 0;
        int total = 4 * tokens + pages + sequences + batch.LogitRows.Length + 2 * (blocks + tensorCoreBlocks + decodeBlocks);
        if (_host.Length < total) _host = new int[Math.Max(total, 2 * _host.Length)];

        var packer = new Packer(_host);
        int ids = packer.Add(batch.TokenIds), positions = packer.Add(batch.Positions), sequence = packer.Add(batch.TokenSequence);
        int slots = packer.Start();
        for (int t = 0; t < tokens; t++) packer.Put(batch.Slot(batch.TokenSequence[t], batch.Positions[t]));
        int offsets = packer.Start();
        for (int s = 0, at = 0; s < sequences; at += batch.PageTables[s].Length, s++) packer.Put(at);
        int logitRows = packer.Add(batch.LogitRows);
        int attentionBlocks = PutBlocks(ref packer, batch, _attentionBlockTokens, 1, int.MaxValue);
        int tensorCoreAttentionBlocks = PutBlocks(ref packer, batch, _tensorCoreBlockTokens, multiFrom, int.MaxValue);
        int decodeAttentionBlocks = _decodeBlocks ? PutBlocks(ref packer, batch, 1, 1, 1) : packer.Start();
        int pageTable = packer.Start();
        for (int s = 0; s < sequences; s++) packer.Add(batch.PageTables[s]);

        if (_buffer.Length < total)
        {
            _buffer.Dispose();
            _buffer = _accelerator.Allocate1D<int>(2L * total);
            Generation++;
        }
        ArrayView<int> device = _buffer.View;
        device.SubView(0, total).CopyFromCPU(stream, ref _host[0], total);

        // An empty section still gets one element, so no kernel is handed a zero-length view.
        ArrayView<int> Section(int start, int length) => device.SubView(start, Math.Max(1, length));
        TokenIds = Section(ids, tokens);
        Positions = Section(positions, tokens);
        TokenSequence = Section(sequence, tokens);
        Slots = Section(slots, tokens);
        PageOffsets = Section(offsets, sequences);
        PageTable = Section(pageTable, pages);
        LogitRows = Section(logitRows, batch.LogitRows.Length);
        AttentionBlocks = Section(attentionBlocks, 2 * blocks);
        AttentionBlockCount = blocks;
        TensorCoreAttentionBlocks = Section(tensorCoreAttentionBlocks, 2 * tensorCoreBlocks);
        TensorCoreAttentionBlockCount = tensorCoreBlocks;
        DecodeBlocks = Section(decodeAttentionBlocks, 2 * decodeBlocks);
        DecodeBlockCount = decodeBlocks;
        LongestContext = longest;
        _current = batch;
    }

    public void Dispose() => _buffer.Dispose();

    /// <summary>
    /// Blocks of at most <paramref name="size"/> consecutive tokens of one sequence (none for size 0), over the
    /// sequences that bring <paramref name="minTokens"/> to <paramref name="maxTokens"/> tokens.
    /// </summary>
    private static int BlockCount(ForwardBatch batch, int size, int minTokens, int maxTokens)
    {
        if (size == 0) return 0;
        int blocks = 0;
        for (int s = 0; s < batch.SequenceCount; s++)
        {
            int tokens = batch.SequenceStarts[s + 1] - batch.SequenceStarts[s];
            if (tokens >= minTokens && tokens <= maxTokens) blocks += (tokens + size - 1) / size;
        }
        return blocks;
    }

    /// <summary>Appends the (first token, token count) pairs of <see cref="BlockCount"/>'s blocks; returns where they start.</summary>
    private static int PutBlocks(ref Packer packer, ForwardBatch batch, int size, int minTokens, int maxTokens)
    {
        int start = packer.Start();
        if (size == 0) return start;
        for (int s = 0; s < batch.SequenceCount; s++)
        {
            int tokens = batch.SequenceStarts[s + 1] - batch.SequenceStarts[s];
            if (tokens < minTokens || tokens > maxTokens) continue;
            for (int t = batch.SequenceStarts[s]; t < batch.SequenceStarts[s + 1]; t += size)
            {
                packer.Put(t);
                packer.Put(Math.Min(size, batch.SequenceStarts[s + 1] - t));
            }
        }
        return start;
    }

    /// <summary>Appends sections to the host staging array; each Add or Start returns where its section begins.</summary>
    private ref struct Packer(int[] host)
    {
        private int _at;

        public int Start() => _at;

        public void Put(int value) => host[_at++] = value;

        public int Add(int[] values)
        {
            int start = _at;
            values.CopyTo(host, _at);
            _at += values.Length;
            return start;
        }
    }
}
