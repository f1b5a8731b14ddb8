namespace Specialized.Backends;

/// <summary>The geometry of the paged KV cache a backend allocates: pages of <see cref="PageSize"/> token slots.</summary>
public readonly record struct KvCacheLayout(int NumPages, int PageSize)
{
    public int Slots => NumPages * PageSize;
}
