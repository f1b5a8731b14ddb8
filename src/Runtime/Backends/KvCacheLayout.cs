namespace Specialized.Backends;

/// <summary>
/// The geometry of the paged KV cache a backend allocates: pages of <see cref="PageSize"/> token slots, elements of
/// <see cref="Dtype"/>.
/// </summary>
public readonly record struct KvCacheLayout(int NumPages, int PageSize, KvCacheDtype Dtype = KvCacheDtype.Float32)
{
    public int Slots => NumPages * PageSize;
}
