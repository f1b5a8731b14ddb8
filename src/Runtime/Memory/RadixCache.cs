using System.Runtime.InteropServices;

namespace Specialized.Memory;

/// <summary>
/// SGLang's RadixAttention prefix cache (<c>mem_cache/radix_cache.py</c>) at page granularity: keys are token ids,
/// every edge holds whole pages (edge token length = pages * <see cref="PageSize"/>), values are KV page ids owned by
/// the tree. Requests reuse the KV of their longest cached prefix; finished requests give their KV to the tree
/// instead of freeing it; unlocked leaves are evicted least recently used first when the pool runs short.
/// Not thread-safe: the scheduler thread owns it.
/// </summary>
public sealed class RadixCache
{
    private readonly KvPagePool _pool;
    private readonly RadixNode _root;
    private readonly FirstPageComparer _firstPage;
    // An access counter instead of wall time: LRU order is then exact and the same on every run.
    private long _clock;

    public RadixCache(KvPagePool pool, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        _pool = pool;
        PageSize = pageSize;
        _firstPage = new FirstPageComparer(pageSize);
        _root = new RadixNode(null, [], [], NewChildren(), 0);
    }

    public int PageSize { get; }

    /// <summary>The tree's root (no tokens, no pages), for tests that walk the whole tree.</summary>
    internal RadixNode Root => _root;

    /// <summary>Pages the tree owns.</summary>
    public int CachedPages { get; private set; }

    /// <summary>Pages in nodes with lock count 0: whole unlocked subtrees, all of which <see cref="Evict"/> may free.</summary>
    public int EvictablePages { get; private set; }

    /// <summary>Tokens of the cached prefixes <see cref="Match"/> returned, since creation (the cache-hit numerator).</summary>
    public long MatchedTokens { get; private set; }

    /// <summary>Tokens asked for in <see cref="Match"/>, partial pages included, since creation.</summary>
    public long LookedUpTokens { get; private set; }

    /// <summary>
    /// Longest cached prefix of <paramref name="tokens"/> in whole pages (Tokens is a multiple of PageSize; 0 and the
    /// root when nothing), splitting an edge if the match ends inside it so the returned node ends exactly there.
    /// Refreshes the access time along the path.
    /// </summary>
    public PrefixMatch Match(ReadOnlySpan<int> tokens)
    {
        LookedUpTokens += tokens.Length;
        var wholePages = tokens[..(tokens.Length / PageSize * PageSize)];
        var node = Descend(wholePages, ++_clock, out int matched);
        MatchedTokens += matched;
        return new PrefixMatch(matched, PathPages(node, matched / PageSize), node);
    }

    /// <summary>
    /// Adds a lock on the path from <paramref name="node"/> to the root: locked nodes are never evicted.
    /// Lock(root) is a no-op. Throws <see cref="InvalidOperationException"/> for a node no longer in this tree.
    /// </summary>
    public void Lock(RadixNode node)
    {
        EnsureInTree(node);
        for (var n = node; n != _root; n = n.Parent!)
        {
            if (n.LockCount++ == 0) EvictablePages -= n.Pages.Length;
        }
    }

    /// <summary>Removes a lock <see cref="Lock"/> added. Unlock(root) is a no-op; an unmatched Unlock throws.</summary>
    public void Unlock(RadixNode node)
    {
        EnsureInTree(node);
        // Every lock runs to the root, so a locked node's ancestors are locked too: checking the node suffices.
        if (node != _root && node.LockCount == 0) throw new InvalidOperationException("Unlock without a matching Lock.");
        for (var n = node; n != _root; n = n.Parent!)
        {
            if (--n.LockCount == 0) EvictablePages += n.Pages.Length;
        }
    }

    /// <summary>
    /// Gives the tree the KV of <paramref name="tokens"/> (tokens.Length == pages.Length * PageSize). Where the tree
    /// already holds a prefix: positions whose caller page id equals the tree's are shared (nothing happens);
    /// positions where the caller holds a different page (it computed the same KV separately) have the caller's
    /// page returned to the pool. Pages for the new part become the tree's. Returns the node ending at
    /// tokens.Length (the root when empty). Refreshes the access time along the path.
    /// </summary>
    public RadixNode Insert(ReadOnlySpan<int> tokens, ReadOnlySpan<int> pages)
    {
        if (tokens.Length != pages.Length * PageSize)
        {
            throw new ArgumentException(
                $"The cache holds whole pages: {tokens.Length} tokens need {pages.Length} pages x {PageSize} tokens. " +
                "Free a partial tail page instead of inserting it.", nameof(tokens));
        }
        long stamp = ++_clock;
        var node = Descend(tokens, stamp, out int matched);
        int sharedPages = matched / PageSize;
        FreeDuplicates(node, pages[..sharedPages]);
        if (matched == tokens.Length) return node;

        var leaf = new RadixNode(node, tokens[matched..].ToArray(), pages[sharedPages..].ToArray(), NewChildren(), stamp);
        node.Children.Add(leaf.Tokens, leaf);
        CachedPages += leaf.Pages.Length;
        EvictablePages += leaf.Pages.Length;
        return leaf;
    }

    /// <summary>
    /// Frees at least <paramref name="pages"/> pages if that many are evictable (else all of them), evicting the
    /// least recently used unlocked leaf again and again as parents become leaves; returns the pages freed. Whole
    /// leaves go, as in SGLang, so it may free up to one leaf's pages more than asked.
    /// </summary>
    public int Evict(int pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pages);
        if (pages == 0 || EvictablePages == 0) return 0;

        var leaves = new PriorityQueue<RadixNode, long>();
        var pending = new Stack<RadixNode>();
        pending.Push(_root);
        while (pending.TryPop(out var node))
        {
            if (node.Children.Count == 0)
            {
                if (node != _root && node.LockCount == 0) leaves.Enqueue(node, node.LastAccess);
                continue;
            }
            foreach (var child in node.Children.Values) pending.Push(child);
        }

        // A parent is touched whenever its child is, so it is never older than its children: the order in which
        // leaves come out of the queue stays oldest first even as emptied parents join it.
        int freed = 0;
        while (freed < pages && leaves.TryDequeue(out var leaf, out _))
        {
            var parent = leaf.Parent!;
            _pool.Free(leaf.Pages);
            parent.Children.Remove(leaf.Tokens);
            leaf.Parent = null;
            freed += leaf.Pages.Length;
            CachedPages -= leaf.Pages.Length;
            EvictablePages -= leaf.Pages.Length;
            if (parent != _root && parent.LockCount == 0 && parent.Children.Count == 0) leaves.Enqueue(parent, parent.LastAccess);
        }
        return freed;
    }

    /// <summary>
    /// Drops every unlocked node (SGLang's <c>flush_cache</c>, which may run with requests in flight here because
    /// their locked paths stay); returns the pages freed.
    /// </summary>
    public int Clear() => Evict(int.MaxValue);

    /// <summary>
    /// Walks from the root along whole pages of <paramref name="tokens"/>, stamping each node passed, and returns the
    /// deepest node reached; <paramref name="matched"/> is the tokens matched. Where the match ends inside an edge,
    /// the edge is split there so the returned node ends exactly at the match.
    /// </summary>
    private RadixNode Descend(ReadOnlySpan<int> tokens, long stamp, out int matched)
    {
        var node = _root;
        matched = 0;
        while (tokens.Length - matched >= PageSize)
        {
            var rest = tokens[matched..];
            var children = node.Children.GetAlternateLookup<ReadOnlySpan<int>>();
            if (!children.TryGetValue(rest[..PageSize], out var child)) break;

            int comparable = Math.Min(child.Tokens.Length, rest.Length) / PageSize * PageSize;
            int commonPages = child.Tokens.AsSpan(0, comparable).CommonPrefixLength(rest[..comparable]) / PageSize;
            bool endsInside = commonPages < child.Pages.Length;
            if (endsInside) child = Split(child, commonPages);
            child.LastAccess = stamp;
            node = child;
            matched += commonPages * PageSize;
            if (endsInside) break;
        }
        return node;
    }

    /// <summary>
    /// Cuts <paramref name="child"/>'s edge after <paramref name="pages"/> pages: a new node takes the upper part and
    /// <paramref name="child"/> keeps the lower part, so a handle a caller holds on <paramref name="child"/> still
    /// ends where it did. The new node inherits the lock count, since every lock through the child passes it.
    /// </summary>
    private RadixNode Split(RadixNode child, int pages)
    {
        var parent = child.Parent!;
        int tokens = pages * PageSize;
        var upper = new RadixNode(parent, child.Tokens[..tokens], child.Pages[..pages], NewChildren(), child.LastAccess)
        {
            LockCount = child.LockCount,
        };
        parent.Children.Remove(child.Tokens);
        child.Tokens = child.Tokens[tokens..];
        child.Pages = child.Pages[pages..];
        child.Parent = upper;
        upper.Children.Add(child.Tokens, child);
        parent.Children.Add(upper.Tokens, upper);
        return upper;
    }

    /// <summary>Returns to the pool each caller page that differs from the tree's page on the path ending at <paramref name="node"/>.</summary>
    private void FreeDuplicates(RadixNode node, ReadOnlySpan<int> callerPages)
    {
        List<int>? duplicates = null;
        int end = callerPages.Length;
        for (var n = node; n != _root; n = n.Parent!)
        {
            end -= n.Pages.Length;
            for (int i = 0; i < n.Pages.Length; i++)
            {
                int page = callerPages[end + i];
                if (page != n.Pages[i]) (duplicates ??= []).Add(page);
            }
        }
        if (duplicates is not null) _pool.Free(CollectionsMarshal.AsSpan(duplicates));
    }

    /// <summary>The pages on the path from the root to <paramref name="node"/>, in position order.</summary>
    private int[] PathPages(RadixNode node, int pageCount)
    {
        if (pageCount == 0) return [];
        var pages = new int[pageCount];
        int end = pageCount;
        for (var n = node; n != _root; n = n.Parent!)
        {
            end -= n.Pages.Length;
            n.Pages.CopyTo(pages, end);
        }
        return pages;
    }

    private void EnsureInTree(RadixNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var top = node;
        while (top.Parent is not null) top = top.Parent;
        if (top != _root)
        {
            throw new InvalidOperationException(
                "The node is not in this cache: it was evicted or cleared (lock a match before evicting), or it belongs to another cache.");
        }
    }

    private Dictionary<int[], RadixNode> NewChildren() => new(_firstPage);

    /// <summary>
    /// Compares token arrays by their first page only (a child's key), and looks them up by a span of the query
    /// without copying it.
    /// </summary>
    private sealed class FirstPageComparer(int pageSize)
        : IEqualityComparer<int[]>, IAlternateEqualityComparer<ReadOnlySpan<int>, int[]>
    {
        public bool Equals(int[]? x, int[]? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && Equals(x.AsSpan(0, pageSize), y));

        public int GetHashCode(int[] tokens) => GetHashCode(tokens.AsSpan(0, pageSize));

        public bool Equals(ReadOnlySpan<int> alternate, int[] other) => alternate.SequenceEqual(other.AsSpan(0, pageSize));

        public int GetHashCode(ReadOnlySpan<int> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(alternate));
            return hash.ToHashCode();
        }

        public int[] Create(ReadOnlySpan<int> alternate) => alternate.ToArray();
    }
}
