using ILGPU;
using ILGPU.Runtime;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// The device copy of a <see cref="ForwardBatch"/>'s index arrays, uploaded once per step and reused by every
/// kernel of the step. Buffers grow to the largest batch seen.
/// </summary>
internal sealed class DeviceBatch : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Dictionary<string, MemoryBuffer1D<int, Stride1D.Dense>> _buffers = [];
    private ForwardBatch? _current;
    private int _blockTokens;

    public DeviceBatch(Accelerator accelerator) => _accelerator = accelerator;

    public ArrayView<int> TokenIds { get; private set; }
    public ArrayView<int> Positions { get; private set; }
    public ArrayView<int> Slots { get; private set; }
    public ArrayView<int> TokenSequence { get; private set; }
    public ArrayView<int> PageTable { get; private set; }
    public ArrayView<int> PageOffsets { get; private set; }
    public ArrayView<int> LogitRows { get; private set; }

    /// <summary>(first token, token count) pairs: each sequence's tokens in runs of at most the tokens per block asked.</summary>
    public ArrayView<int> AttentionBlocks { get; private set; }

    public int AttentionBlockCount { get; private set; }

    /// <summary>Cuts the current batch's sequences into attention blocks of at most <paramref name="tokensPerBlock"/> tokens.</summary>
    public void UseAttentionBlocks(int tokensPerBlock, AcceleratorStream stream)
    {
        ForwardBatch batch = _current ?? throw new InvalidOperationException("No batch is in use.");
        if (_blockTokens == tokensPerBlock) return;
        var blocks = new List<int>();
        for (int s = 0; s < batch.SequenceCount; s++)
        {
            for (int t = batch.SequenceStarts[s]; t < batch.SequenceStarts[s + 1]; t += tokensPerBlock)
            {
                blocks.Add(t);
                blocks.Add(Math.Min(tokensPerBlock, batch.SequenceStarts[s + 1] - t));
            }
        }
        AttentionBlocks = Upload("blocks", blocks.ToArray(), stream);
        AttentionBlockCount = blocks.Count / 2;
        _blockTokens = tokensPerBlock;
    }

    /// <summary>Makes <paramref name="batch"/> the current one, uploading its arrays if it is not already.</summary>
    public void Use(ForwardBatch batch, AcceleratorStream stream)
    {
        if (ReferenceEquals(batch, _current)) return;
        int tokens = batch.TokenCount;
        var slots = new int[tokens];
        for (int t = 0; t < tokens; t++) slots[t] = batch.Slot(batch.TokenSequence[t], batch.Positions[t]);
        var offsets = new int[batch.SequenceCount];
        var pages = new List<int>();
        for (int s = 0; s < batch.SequenceCount; s++)
        {
            offsets[s] = pages.Count;
            pages.AddRange(batch.PageTables[s]);
        }

        TokenIds = Upload("ids", batch.TokenIds, stream);
        Positions = Upload("positions", batch.Positions, stream);
        Slots = Upload("slots", slots, stream);
        TokenSequence = Upload("sequence", batch.TokenSequence, stream);
        PageTable = Upload("pages", pages.ToArray(), stream);
        PageOffsets = Upload("offsets", offsets, stream);
        LogitRows = Upload("logits", batch.LogitRows, stream);
        _current = batch;
        _blockTokens = 0;
    }

    private ArrayView<int> Upload(string name, int[] values, AcceleratorStream stream)
    {
        if (!_buffers.TryGetValue(name, out var buffer) || buffer.Length < Math.Max(1, values.Length))
        {
            buffer?.Dispose();
            buffer = _accelerator.Allocate1D<int>(Math.Max(16, values.Length * 2));
            _buffers[name] = buffer;
        }
        ArrayView<int> view = buffer.View.SubView(0, Math.Max(1, values.Length));
        if (values.Length > 0) view.SubView(0, values.Length).CopyFromCPU(stream, values);
        return view;
    }

    public void Dispose()
    {
        foreach (var buffer in _buffers.Values) buffer.Dispose();
    }
}
