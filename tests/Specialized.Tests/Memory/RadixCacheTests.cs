using Specialized.Memory;

namespace Specialized.Tests.Memory;

public sealed class RadixCacheTests
{
    private readonly KvPagePool _pool = new(64);

    private int[] Allocate(int count)
    {
        var pages = new List<int>();
        Assert.True(_pool.TryAllocate(count, pages));
        return [.. pages];
    }

    /// <summary>Allocates pages for <paramref name="tokens"/> and gives them to the cache, as a finished request does.</summary>
    private (RadixNode Node, int[] Pages) InsertFresh(RadixCache cache, int[] tokens)
    {
        var pages = Allocate(tokens.Length / cache.PageSize);
        return (cache.Insert(tokens, pages), pages);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Matching_an_empty_tree_finds_nothing(int pageSize)
    {
        var cache = new RadixCache(_pool, pageSize);

        var match = cache.Match([1, 2, 3, 4, 5]);

        Assert.Equal(0, match.Tokens);
        Assert.Empty(match.Pages);
        Assert.Same(cache.Match([]).Node, match.Node);
        Assert.Equal(0, cache.CachedPages);
    }

    [Fact]
    public void Matches_exact_shorter_and_longer_sequences()
    {
        var cache = new RadixCache(_pool, 1);
        var (node, pages) = InsertFresh(cache, [1, 2, 3, 4]);

        var exact = cache.Match([1, 2, 3, 4]);
        Assert.Equal(4, exact.Tokens);
        Assert.Equal(pages, exact.Pages);
        Assert.Same(node, exact.Node);

        var shorter = cache.Match([1, 2]);
        Assert.Equal(2, shorter.Tokens);
        Assert.Equal(pages[..2], shorter.Pages);

        var longer = cache.Match([1, 2, 3, 4, 5, 6]);
        Assert.Equal(4, longer.Tokens);
        Assert.Equal(pages, longer.Pages);
        Assert.Same(node, longer.Node);

        var diverging = cache.Match([1, 2, 9]);
        Assert.Equal(2, diverging.Tokens);
        Assert.Same(shorter.Node, diverging.Node);

        Assert.Equal(0, cache.Match([9, 1, 2]).Tokens);
    }

    [Fact]
    public void Matches_whole_pages_only()
    {
        var cache = new RadixCache(_pool, 4);
        var (_, pages) = InsertFresh(cache, [1, 2, 3, 4, 5, 6, 7, 8]);

        // A partial last page is never matched, even where its tokens agree.
        var partial = cache.Match([1, 2, 3, 4, 5, 6, 7]);
        Assert.Equal(4, partial.Tokens);
        Assert.Equal(pages[..1], partial.Pages);

        // One token off inside the second page loses that whole page.
        var offInPage = cache.Match([1, 2, 3, 4, 5, 6, 7, 9]);
        Assert.Equal(4, offInPage.Tokens);
        Assert.Equal(pages[..1], offInPage.Pages);

        Assert.Equal(0, cache.Match([1, 2, 3, 9, 5, 6, 7, 8]).Tokens);

        var longer = cache.Match([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        Assert.Equal(8, longer.Tokens);
        Assert.Equal(pages, longer.Pages);
    }

    [Fact]
    public void Children_sharing_a_first_token_are_told_apart_by_their_first_page()
    {
        var cache = new RadixCache(_pool, 4);
        var (first, firstPages) = InsertFresh(cache, [1, 2, 3, 4]);
        var (second, secondPages) = InsertFresh(cache, [1, 2, 3, 5]);

        Assert.NotSame(first, second);
        Assert.Equal(firstPages, cache.Match([1, 2, 3, 4, 0]).Pages);
        Assert.Equal(secondPages, cache.Match([1, 2, 3, 5, 0]).Pages);
        Assert.Equal(2, cache.CachedPages);
    }

    [Fact]
    public void Insert_needs_whole_pages()
    {
        var cache = new RadixCache(_pool, 4);
        var pages = Allocate(2);

        Assert.Throws<ArgumentException>(() => cache.Insert([1, 2, 3, 4, 5, 6], pages));
        Assert.Throws<ArgumentException>(() => cache.Insert([1, 2, 3, 4], pages));
        Assert.Equal(0, cache.CachedPages);
    }

    [Fact]
    public void Inserting_nothing_returns_the_root_which_locks_as_a_no_op()
    {
        var cache = new RadixCache(_pool, 2);
        var root = cache.Insert([], []);

        Assert.Same(cache.Match([7]).Node, root);
        cache.Lock(root);
        cache.Unlock(root);
        cache.Unlock(root);
        Assert.Equal(0, cache.EvictablePages);
    }

    [Fact]
    public void A_match_ending_inside_an_edge_splits_it_and_the_lock_covers_only_the_upper_part()
    {
        var cache = new RadixCache(_pool, 2);
        var (leaf, pages) = InsertFresh(cache, [1, 2, 3, 4, 5, 6]);

        var match = cache.Match([1, 2, 3, 4, 9, 9]);
        Assert.Equal(4, match.Tokens);
        Assert.Equal(pages[..2], match.Pages);
        Assert.NotSame(leaf, match.Node);

        cache.Lock(match.Node);
        Assert.Equal(3, cache.CachedPages);
        Assert.Equal(1, cache.EvictablePages);

        int freeBefore = _pool.FreePages;
        Assert.Equal(1, cache.Evict(10));
        Assert.Equal(freeBefore + 1, _pool.FreePages);
        Assert.False(_pool.IsAllocated(pages[2]));
        Assert.Equal(4, cache.Match([1, 2, 3, 4, 5, 6]).Tokens);

        cache.Unlock(match.Node);
        Assert.Equal(2, cache.EvictablePages);
    }

    [Fact]
    public void Splitting_a_locked_edge_keeps_the_whole_path_locked()
    {
        var cache = new RadixCache(_pool, 1);
        var (leaf, _) = InsertFresh(cache, [1, 2, 3, 4]);
        cache.Lock(leaf);

        var upper = cache.Match([1, 2]).Node;
        Assert.NotSame(leaf, upper);
        Assert.Equal(0, cache.EvictablePages);
        Assert.Equal(0, cache.Evict(4));

        // The upper half inherited the leaf's lock; one Unlock of the leaf releases both halves.
        cache.Unlock(leaf);
        Assert.Equal(4, cache.EvictablePages);
        Assert.Throws<InvalidOperationException>(() => cache.Unlock(upper));
        Assert.Equal(4, cache.Evict(4));
        Assert.Equal(0, cache.CachedPages);
    }

    [Fact]
    public void Insert_diverging_inside_an_edge_splits_it_into_a_shared_parent()
    {
        var cache = new RadixCache(_pool, 2);
        var (first, firstPages) = InsertFresh(cache, [1, 2, 3, 4, 5, 6]);
        var newPages = Allocate(2);

        var second = cache.Insert([1, 2, 3, 4, 7, 8, 9, 10], [firstPages[0], firstPages[1], .. newPages]);

        Assert.Equal(5, cache.CachedPages);
        Assert.Equal(firstPages, cache.Match([1, 2, 3, 4, 5, 6]).Pages);
        var secondMatch = cache.Match([1, 2, 3, 4, 7, 8, 9, 10]);
        Assert.Same(second, secondMatch.Node);
        Assert.Equal([firstPages[0], firstPages[1], .. newPages], secondMatch.Pages);
        Assert.Same(first, cache.Match([1, 2, 3, 4, 5, 6]).Node);

        var shared = cache.Match([1, 2, 3, 4]);
        Assert.Equal(4, shared.Tokens);
        Assert.Same(shared.Node, cache.Match([1, 2, 3, 4, 0, 0]).Node);
    }

    [Fact]
    public void Insert_ending_inside_an_edge_returns_a_node_ending_there()
    {
        var cache = new RadixCache(_pool, 1);
        var (_, pages) = InsertFresh(cache, [1, 2, 3, 4]);

        var node = cache.Insert([1, 2], pages[..2]);

        Assert.Same(node, cache.Match([1, 2, 9]).Node);
        Assert.Equal(4, cache.CachedPages);
    }

    [Fact]
    public void Insert_shares_the_trees_pages_and_frees_the_callers_duplicates()
    {
        var cache = new RadixCache(_pool, 2);
        var (_, treePages) = InsertFresh(cache, [1, 2, 3, 4, 5, 6]);

        // A request matched the first page, then computed pages 2..4 itself, though the tree gained pages 2 and 3.
        var own = Allocate(3);
        int freeBefore = _pool.FreePages;
        cache.Insert([1, 2, 3, 4, 5, 6, 7, 8], [treePages[0], .. own]);

        Assert.Equal(freeBefore + 2, _pool.FreePages);
        Assert.True(_pool.IsAllocated(treePages[0]));
        Assert.False(_pool.IsAllocated(own[0]));
        Assert.False(_pool.IsAllocated(own[1]));
        Assert.True(_pool.IsAllocated(own[2]));
        Assert.Equal(4, cache.CachedPages);
        Assert.Equal([.. treePages, own[2]], cache.Match([1, 2, 3, 4, 5, 6, 7, 8]).Pages);

        // Inserting what the tree already holds, with its own pages, changes nothing.
        cache.Insert([1, 2, 3, 4], treePages[..2]);
        Assert.Equal(freeBefore + 2, _pool.FreePages);
        Assert.Equal(4, cache.CachedPages);
    }

    [Fact]
    public void Locked_paths_are_not_evicted_until_unlocked()
    {
        var cache = new RadixCache(_pool, 1);
        var (node, pages) = InsertFresh(cache, [1, 2, 3]);
        cache.Lock(node);
        cache.Lock(node);
        int freeBefore = _pool.FreePages;

        Assert.Equal(0, cache.Evict(3));
        Assert.Equal(0, cache.Clear());
        Assert.Equal(freeBefore, _pool.FreePages);

        cache.Unlock(node);
        Assert.Equal(0, cache.Evict(3));
        cache.Unlock(node);
        Assert.Equal(3, cache.Evict(3));
        Assert.Equal(freeBefore + 3, _pool.FreePages);
        Assert.All(pages, page => Assert.False(_pool.IsAllocated(page)));
    }

    [Fact]
    public void Unlock_without_lock_and_lock_of_an_evicted_node_throw()
    {
        var cache = new RadixCache(_pool, 1);
        var (node, _) = InsertFresh(cache, [1, 2]);

        Assert.Throws<InvalidOperationException>(() => cache.Unlock(node));
        cache.Evict(2);
        Assert.Throws<InvalidOperationException>(() => cache.Lock(node));
        Assert.Throws<InvalidOperationException>(() => new RadixCache(_pool, 1).Lock(cache.Match([]).Node));
    }

    [Fact]
    public void Evicts_the_least_recently_used_leaf_first()
    {
        var cache = new RadixCache(_pool, 2);
        InsertFresh(cache, [1, 1]);
        InsertFresh(cache, [2, 2]);
        InsertFresh(cache, [3, 3]);

        Assert.Equal(1, cache.Evict(1));
        Assert.Equal(0, cache.Match([1, 1]).Tokens);

        // Touching [2, 2] makes [3, 3] the oldest.
        Assert.Equal(2, cache.Match([2, 2]).Tokens);
        Assert.Equal(1, cache.Evict(1));
        Assert.Equal(0, cache.Match([3, 3]).Tokens);
        Assert.Equal(2, cache.Match([2, 2]).Tokens);
    }

    [Fact]
    public void Evicting_a_leaf_makes_its_parent_evictable()
    {
        var cache = new RadixCache(_pool, 1);
        InsertFresh(cache, [1, 2, 3, 4]);
        var parent = cache.Match([1, 2]).Node;
        InsertFresh(cache, [9]);
        // [1, 2] and [3, 4] were touched before [9]: both go before it, the leaf first.
        Assert.Equal(2, cache.Evict(1));
        Assert.Equal(2, cache.Match([1, 2, 3, 4]).Tokens);
        Assert.Same(parent, cache.Match([1, 2, 3, 4]).Node);

        // Now [1, 2] is newer than [9]: [9] goes first, then the emptied parent.
        Assert.Equal(3, cache.Evict(3));
        Assert.Equal(0, cache.CachedPages);
        Assert.Equal(_pool.TotalPages, _pool.FreePages);
    }

    [Fact]
    public void Eviction_frees_whole_leaves_and_stops_when_nothing_is_left()
    {
        var cache = new RadixCache(_pool, 1);
        InsertFresh(cache, [1, 2, 3]);

        Assert.Equal(3, cache.Evict(1));
        Assert.Equal(0, cache.Evict(1));
        Assert.Equal(0, cache.CachedPages);
    }

    [Fact]
    public void Counts_cached_and_evictable_pages()
    {
        var cache = new RadixCache(_pool, 2);
        var (a, _) = InsertFresh(cache, [1, 2, 3, 4, 5, 6]);
        var (b, _) = InsertFresh(cache, [7, 8, 9, 10]);
        Assert.Equal((5, 5), (cache.CachedPages, cache.EvictablePages));

        cache.Lock(a);
        Assert.Equal((5, 2), (cache.CachedPages, cache.EvictablePages));

        // Splitting the locked edge moves no pages between locked and unlocked.
        cache.Match([1, 2]);
        Assert.Equal((5, 2), (cache.CachedPages, cache.EvictablePages));

        cache.Lock(b);
        Assert.Equal((5, 0), (cache.CachedPages, cache.EvictablePages));
        cache.Unlock(a);
        Assert.Equal((5, 3), (cache.CachedPages, cache.EvictablePages));
        // The split left a's path as two nodes: the leaf goes first, and the parent only when more is asked.
        Assert.Equal(2, cache.Evict(1));
        Assert.Equal((3, 1), (cache.CachedPages, cache.EvictablePages));
        Assert.Equal(1, cache.Evict(1));
        Assert.Equal((2, 0), (cache.CachedPages, cache.EvictablePages));
        cache.Unlock(b);
        Assert.Equal((2, 2), (cache.CachedPages, cache.EvictablePages));
    }

    [Fact]
    public void Clear_drops_every_unlocked_node()
    {
        var cache = new RadixCache(_pool, 1);
        var (kept, keptPages) = InsertFresh(cache, [1, 2, 3]);
        InsertFresh(cache, [1, 2, 5, 6]);
        InsertFresh(cache, [7, 8]);
        var locked = cache.Match([1, 2, 3]).Node;
        cache.Lock(locked);

        Assert.Equal(4, cache.Clear());

        Assert.Equal((3, 0), (cache.CachedPages, cache.EvictablePages));
        Assert.Equal(keptPages, cache.Match([1, 2, 3, 4]).Pages);
        Assert.Equal(0, cache.Match([7, 8]).Tokens);
        Assert.Equal(_pool.TotalPages - 3, _pool.FreePages);
        Assert.Same(kept, locked);
    }

    [Fact]
    public void Counts_tokens_looked_up_and_matched()
    {
        var cache = new RadixCache(_pool, 2);
        InsertFresh(cache, [1, 2, 3, 4]);

        cache.Match([1, 2, 3, 4, 5]);
        cache.Match([1, 2, 9]);
        cache.Match([]);

        Assert.Equal(8, cache.LookedUpTokens);
        Assert.Equal(6, cache.MatchedTokens);
    }
}
