using Specialized.Memory;

namespace Specialized.Tests.Memory;

/// <summary>
/// Random scheduler-like traffic against the cache and a plain model of it: the set of cached page-aligned prefixes,
/// each with its page id and last access stamp. After every step the tree, the pool and the model must agree.
/// </summary>
public sealed class RadixCacheModelTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(4, 4)]
    [InlineData(4, 5)]
    public void Random_traffic_keeps_tree_pool_and_model_in_agreement(int pageSize, int seed) =>
        new Simulation(pageSize, seed).Run(steps: 2000);

    /// <summary>A request in flight: its tokens, its page table, and the cached prefix it locked.</summary>
    private sealed class Request(List<int> tokens, List<int> pages, RadixNode locked, int lockedTokens)
    {
        public List<int> Tokens { get; } = tokens;
        public List<int> Pages { get; } = pages;
        public RadixNode Locked { get; set; } = locked;
        /// <summary>Tokens of the locked prefix; its pages are the tree's, the rest of <see cref="Pages"/> the request's.</summary>
        public int LockedTokens { get; set; } = lockedTokens;
    }

    private sealed class Simulation
    {
        private const int TotalPages = 48;
        private const int MaxRequests = 8;
        private static readonly int[] Alphabet = [3, 5, 8];

        private readonly int _pageSize;
        private readonly Random _random;
        private readonly KvPagePool _pool = new(TotalPages);
        private readonly RadixCache _cache;
        private readonly int[][] _prompts;
        private readonly List<Request> _requests = [];
        // The KV each allocated page holds: the tokens of the sequence up to the end of that page.
        private readonly Dictionary<int, string> _pageContents = [];
        // The model: each cached page-aligned prefix, with the page holding its last page and its last access.
        private readonly Dictionary<string, (int Page, long Stamp)> _cached = [];
        private long _clock;
        private long _lookedUp;
        private long _matched;

        public Simulation(int pageSize, int seed)
        {
            _pageSize = pageSize;
            _random = new Random(seed);
            _cache = new RadixCache(_pool, pageSize);
            // Requests start from a few shared prompts, so prefixes overlap often.
            _prompts = [.. Enumerable.Range(0, 4).Select(_ => RandomTokens(6 * pageSize).ToArray())];
        }

        public void Run(int steps)
        {
            for (int step = 0; step < steps; step++)
            {
                int dice = _random.Next(100);
                if (dice < 30) Start();
                else if (dice < 50) Finish();
                else if (dice < 60) Checkpoint();
                else if (dice < 75) Extend();
                else if (dice < 85) Probe();
                else if (dice < 94) Evict(_random.Next(1, 9));
                else if (dice < 99) Abort();
                else Clear();
                CheckInvariants();
            }
        }

        /// <summary>A new request: match its prompt, lock the match, allocate pages for the rest.</summary>
        private void Start()
        {
            if (_requests.Count == MaxRequests) return;
            var prompt = _prompts[_random.Next(_prompts.Length)];
            List<int> tokens = [.. prompt[.._random.Next(prompt.Length + 1)], .. RandomTokens(_random.Next(2 * _pageSize + 1))];
            var match = Match(tokens);
            _cache.Lock(match.Node);
            var pages = new List<int>(match.Pages);
            if (!Allocate(PagesFor(tokens.Count) - pages.Count, pages))
            {
                _cache.Unlock(match.Node);
                return;
            }
            WriteContents(tokens, pages, match.Pages.Length);
            _requests.Add(new Request(tokens, pages, match.Node, match.Tokens));
        }

        /// <summary>Decode steps: a few more tokens, and pages for them.</summary>
        private void Extend()
        {
            if (_requests.Count == 0) return;
            var request = _requests[_random.Next(_requests.Count)];
            int oldLength = request.Tokens.Count;
            int newLength = oldLength + _random.Next(1, _pageSize + 2);
            if (!Allocate(PagesFor(newLength) - request.Pages.Count, request.Pages)) return;
            request.Tokens.AddRange(RandomTokens(newLength - oldLength));
            WriteContents(request.Tokens, request.Pages, oldLength / _pageSize);
        }

        /// <summary>SGLang's cache_finished_req: whole pages go to the tree, the partial tail page back to the pool.</summary>
        private void Finish()
        {
            if (_requests.Count == 0) return;
            var request = _requests[_random.Next(_requests.Count)];
            int wholePages = InsertWholePages(request);
            if (request.Pages.Count > wholePages) FreeOwn([request.Pages[wholePages]]);
            _cache.Unlock(request.Locked);
            _requests.Remove(request);
        }

        /// <summary>
        /// SGLang's cache_unfinished_req (chunked prefill): insert the whole pages, match them again to take the
        /// tree's pages, and move the lock to the new, longer prefix.
        /// </summary>
        private void Checkpoint()
        {
            if (_requests.Count == 0) return;
            var request = _requests[_random.Next(_requests.Count)];
            int wholePages = InsertWholePages(request);
            var match = Match(request.Tokens[..(wholePages * _pageSize)]);
            Assert.Equal(wholePages * _pageSize, match.Tokens);
            _cache.Lock(match.Node);
            _cache.Unlock(request.Locked);
            request.Locked = match.Node;
            request.LockedTokens = match.Tokens;
            request.Pages.RemoveRange(0, wholePages);
            request.Pages.InsertRange(0, match.Pages);
        }

        private void Abort()
        {
            if (_requests.Count == 0) return;
            var request = _requests[_random.Next(_requests.Count)];
            FreeOwn(request.Pages[(request.LockedTokens / _pageSize)..]);
            _cache.Unlock(request.Locked);
            _requests.Remove(request);
        }

        /// <summary>A lookup that uses nothing, like the scheduler ranking waiting requests by prefix.</summary>
        private void Probe()
        {
            var prompt = _prompts[_random.Next(_prompts.Length)];
            Match([.. prompt[.._random.Next(prompt.Length + 1)], .. RandomTokens(_random.Next(_pageSize + 1))]);
        }

        private void Evict(int pages)
        {
            int evictable = _cache.EvictablePages;
            int freed = _cache.Evict(pages);

            var evicted = TakeEvictedFromModel();
            Assert.Equal(evicted.Count, freed);
            Assert.InRange(freed, Math.Min(pages, evictable), evictable);
            Assert.All(evicted, entry => Assert.False(IsLocked(entry.Key)));
            if (evicted.Count > 0)
            {
                // Least recently used first: nothing evicted is newer than an unlocked leaf that stays.
                long newestEvicted = evicted.Max(entry => entry.Stamp);
                Assert.All(UnlockedLeaves(), key => Assert.True(_cached[key].Stamp >= newestEvicted));
            }
        }

        private void Clear()
        {
            int evictable = _cache.EvictablePages;
            int freed = _cache.Clear();
            Assert.Equal(evictable, freed);
            Assert.Equal(freed, TakeEvictedFromModel().Count);
            Assert.All(_cached.Keys, key => Assert.True(IsLocked(key)));
        }

        private PrefixMatch Match(List<int> tokens)
        {
            var match = _cache.Match(tokens.ToArray());
            _clock++;
            _lookedUp += tokens.Count;
            _matched += match.Tokens;

            int expectedPages = 0;
            while ((expectedPages + 1) * _pageSize <= tokens.Count && _cached.ContainsKey(Key(tokens, expectedPages + 1))) expectedPages++;
            Assert.Equal(expectedPages * _pageSize, match.Tokens);
            Assert.Equal(expectedPages, match.Pages.Length);
            for (int i = 0; i < expectedPages; i++)
            {
                string key = Key(tokens, i + 1);
                Assert.Equal(_cached[key].Page, match.Pages[i]);
                Assert.Equal(key, _pageContents[match.Pages[i]]);
                _cached[key] = (match.Pages[i], _clock);
            }
            return match;
        }

        /// <summary>Inserts the request's whole pages and updates the model; returns how many pages that was.</summary>
        private int InsertWholePages(Request request)
        {
            int wholePages = request.Tokens.Count / _pageSize;
            var tokens = request.Tokens[..(wholePages * _pageSize)].ToArray();
            var pages = request.Pages[..wholePages].ToArray();
            var node = _cache.Insert(tokens, pages);
            _clock++;

            Assert.Equal(tokens.Length, Depth(node));
            for (int i = 0; i < wholePages; i++)
            {
                string key = Key(request.Tokens, i + 1);
                if (!_cached.TryGetValue(key, out var existing))
                {
                    _cached[key] = (pages[i], _clock);
                    continue;
                }
                if (existing.Page != pages[i])
                {
                    // The tree already held this KV in another page: the request's copy went back to the pool.
                    Assert.False(_pool.IsAllocated(pages[i]));
                    _pageContents.Remove(pages[i]);
                }
                _cached[key] = (existing.Page, _clock);
            }
            return wholePages;
        }

        private bool Allocate(int count, List<int> pages)
        {
            if (count > _pool.FreePages) Evict(count - _pool.FreePages);
            return _pool.TryAllocate(count, pages);
        }

        private void FreeOwn(List<int> pages)
        {
            _pool.Free(pages.ToArray());
            foreach (int page in pages) _pageContents.Remove(page);
        }

        /// <summary>Records what each page from <paramref name="firstPage"/> on holds once its tokens are computed.</summary>
        private void WriteContents(List<int> tokens, List<int> pages, int firstPage)
        {
            for (int i = firstPage; i < pages.Count; i++)
            {
                _pageContents[pages[i]] = Key(tokens[..Math.Min((i + 1) * _pageSize, tokens.Count)]);
            }
        }

        /// <summary>Removes from the model the prefixes whose pages the pool got back, and returns them.</summary>
        private List<(string Key, long Stamp)> TakeEvictedFromModel()
        {
            var evicted = _cached.Where(entry => !_pool.IsAllocated(entry.Value.Page))
                .Select(entry => (entry.Key, entry.Value.Stamp)).ToList();
            foreach (var (key, _) in evicted)
            {
                _pageContents.Remove(_cached[key].Page);
                _cached.Remove(key);
            }
            return evicted;
        }

        private IEnumerable<string> UnlockedLeaves()
        {
            var parents = _cached.Keys.Select(key => key[..^_pageSize]).ToHashSet();
            return _cached.Keys.Where(key => !parents.Contains(key) && !IsLocked(key)).ToList();
        }

        private bool IsLocked(string key) =>
            _requests.Any(request => request.LockedTokens >= key.Length && Key(request.Tokens[..key.Length]) == key);

        private void CheckInvariants()
        {
            var treePages = new HashSet<int>();
            var expectedLocks = new Dictionary<RadixNode, int>();
            foreach (var request in _requests)
            {
                for (var node = request.Locked; node.Parent is not null; node = node.Parent)
                {
                    expectedLocks[node] = expectedLocks.GetValueOrDefault(node) + 1;
                }
            }

            var pending = new Stack<(RadixNode Node, string Path)>();
            pending.Push((_cache.Root, ""));
            while (pending.TryPop(out var item))
            {
                var (node, path) = item;
                foreach (var child in node.Children.Values)
                {
                    Assert.Same(node, child.Parent);
                    Assert.NotEmpty(child.Pages);
                    Assert.Equal(child.Pages.Length * _pageSize, child.Tokens.Length);
                    Assert.Equal(expectedLocks.GetValueOrDefault(child), child.LockCount);
                    if (node != _cache.Root) Assert.True(child.LastAccess <= node.LastAccess);
                    string childPath = path;
                    for (int i = 0; i < child.Pages.Length; i++)
                    {
                        int page = child.Pages[i];
                        childPath += Key(child.Tokens.AsSpan(i * _pageSize, _pageSize));
                        Assert.True(treePages.Add(page), $"page {page} appears twice in the tree");
                        Assert.True(_pool.IsAllocated(page));
                        // The KV in the page is that of exactly the tokens on the path to it.
                        Assert.Equal(childPath, _pageContents[page]);
                        Assert.Equal((page, child.LastAccess), _cached[childPath]);
                    }
                    pending.Push((child, childPath));
                }
            }
            Assert.Equal(_cached.Count, treePages.Count);
            Assert.Equal(treePages.Count, _cache.CachedPages);
            Assert.Equal(_cached.Keys.Count(key => !IsLocked(key)), _cache.EvictablePages);

            var heldPages = new HashSet<int>();
            foreach (var request in _requests)
            {
                int lockedPages = request.LockedTokens / _pageSize;
                Assert.Equal(PagesFor(request.Tokens.Count), request.Pages.Count);
                for (int i = 0; i < request.Pages.Count; i++)
                {
                    int page = request.Pages[i];
                    if (i < lockedPages)
                    {
                        Assert.Equal(_cached[Key(request.Tokens, i + 1)].Page, page);
                        continue;
                    }
                    Assert.True(_pool.IsAllocated(page));
                    Assert.DoesNotContain(page, treePages);
                    Assert.True(heldPages.Add(page), $"page {page} is held twice");
                }
            }
            Assert.Equal(TotalPages, _pool.FreePages + treePages.Count + heldPages.Count);
            Assert.Equal(treePages.Count + heldPages.Count, _pageContents.Count);
            Assert.Equal(_lookedUp, _cache.LookedUpTokens);
            Assert.Equal(_matched, _cache.MatchedTokens);
        }

        private int PagesFor(int tokens) => (tokens + _pageSize - 1) / _pageSize;

        private int Depth(RadixNode node)
        {
            int depth = 0;
            for (var n = node; n.Parent is not null; n = n.Parent) depth += n.Tokens.Length;
            return depth;
        }

        private List<int> RandomTokens(int count) => [.. Enumerable.Range(0, count).Select(_ => Alphabet[_random.Next(Alphabet.Length)])];

        private string Key(List<int> tokens, int pages) => Key(tokens[..(pages * _pageSize)]);

        private static string Key(List<int> tokens) => Key(tokens.ToArray());

        private static string Key(ReadOnlySpan<int> tokens)
        {
            var chars = new char[tokens.Length];
            for (int i = 0; i < tokens.Length; i++) chars[i] = (char)tokens[i];
            return new string(chars);
        }
    }
}
