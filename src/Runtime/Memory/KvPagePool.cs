namespace Specialized.Memory;

/// <summary>
/// The free list of the paged KV cache (SGLang's <c>PagedTokenToKVPoolAllocator</c>): hands out page ids in
/// [0, <see cref="TotalPages"/>) and takes them back. It owns no KV memory, only the ids; a sequence's position p
/// lives in slot <c>pageTable[p / pageSize] * pageSize + p % pageSize</c> of the backend's cache.
/// </summary>
public sealed class KvPagePool
{
    // A stack of free ids, so allocating and freeing a page are O(1).
    private readonly int[] _free;
    private int _freeCount;
    // Tracked so a double free is caught where it happens instead of silently handing one page to two sequences.
    private readonly bool[] _allocated;

    public KvPagePool(int totalPages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalPages);
        TotalPages = totalPages;
        _free = new int[totalPages];
        _allocated = new bool[totalPages];
        // Highest id at the bottom, so a fresh pool hands out 0, 1, 2, ... in order.
        for (int i = 0; i < totalPages; i++) _free[i] = totalPages - 1 - i;
        _freeCount = totalPages;
    }

    public int TotalPages { get; }

    public int FreePages => _freeCount;

    /// <summary>
    /// All or nothing: appends <paramref name="count"/> page ids to <paramref name="destination"/> and returns true,
    /// or changes nothing and returns false.
    /// </summary>
    public bool TryAllocate(int count, List<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _freeCount) return false;
        for (int i = 0; i < count; i++)
        {
            int page = _free[--_freeCount];
            _allocated[page] = true;
            destination.Add(page);
        }
        return true;
    }

    /// <summary>
    /// Returns pages to the pool. Freeing a page that is not allocated (double free, out of range) throws
    /// <see cref="InvalidOperationException"/>, since it is a bug, and leaves the pool as it was.
    /// </summary>
    public void Free(ReadOnlySpan<int> pages)
    {
        for (int i = 0; i < pages.Length; i++)
        {
            int page = pages[i];
            if ((uint)page >= (uint)TotalPages || !_allocated[page])
            {
                // Undo the pages of this call already marked, so a caught bug does not also leak pages.
                for (int j = 0; j < i; j++) _allocated[pages[j]] = true;
                throw new InvalidOperationException(
                    $"KV page {page} is not allocated (double free or out of range [0, {TotalPages})).");
            }
            _allocated[page] = false;
        }
        foreach (int page in pages) _free[_freeCount++] = page;
    }

    /// <summary>Whether <paramref name="page"/> is handed out, for tests that account for every page.</summary>
    internal bool IsAllocated(int page) => (uint)page < (uint)TotalPages && _allocated[page];
}
