namespace Specialized.Memory;

/// <summary>
/// The longest cached prefix of a token sequence: its length in tokens (whole pages), the KV pages holding it in
/// position order, and the tree node it ends at (to <see cref="RadixCache.Lock"/> while a request uses the pages).
/// </summary>
public readonly record struct PrefixMatch(int Tokens, int[] Pages, RadixNode Node);
