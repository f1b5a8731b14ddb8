namespace Specialized.Memory;

/// <summary>
/// A node of the radix tree; opaque to callers except for identity. Its edge from the parent holds
/// <see cref="Tokens"/> and the KV <see cref="Pages"/> of those tokens (Tokens.Length == Pages.Length * page size).
/// </summary>
public sealed class RadixNode
{
    internal RadixNode(RadixNode? parent, int[] tokens, int[] pages, Dictionary<int[], RadixNode> children, long lastAccess)
    {
        Parent = parent;
        Tokens = tokens;
        Pages = pages;
        Children = children;
        LastAccess = lastAccess;
    }

    /// <summary>Null for the root, and for a node that has been evicted (so a stale handle is caught on Lock).</summary>
    internal RadixNode? Parent { get; set; }

    internal int[] Tokens { get; set; }

    internal int[] Pages { get; set; }

    /// <summary>Keyed by each child's first page of tokens, which no two children share.</summary>
    internal Dictionary<int[], RadixNode> Children { get; }

    /// <summary>Requests using this node or a descendant; a node with a nonzero count is never evicted.</summary>
    internal int LockCount { get; set; }

    /// <summary>The cache's access counter when a match or insert last went through this node.</summary>
    internal long LastAccess { get; set; }
}
