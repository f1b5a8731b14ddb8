using Specialized.Memory;

namespace Specialized.Tests.Memory;

public sealed class KvPagePoolTests
{
    [Fact]
    public void A_fresh_pool_hands_out_pages_in_order()
    {
        var pool = new KvPagePool(8);
        var pages = new List<int>();

        Assert.True(pool.TryAllocate(3, pages));

        Assert.Equal([0, 1, 2], pages);
        Assert.Equal(8, pool.TotalPages);
        Assert.Equal(5, pool.FreePages);
    }

    [Fact]
    public void Allocation_is_all_or_nothing()
    {
        var pool = new KvPagePool(4);
        var held = new List<int>();
        Assert.True(pool.TryAllocate(3, held));
        var more = new List<int> { 42 };

        Assert.False(pool.TryAllocate(2, more));

        Assert.Equal([42], more);
        Assert.Equal(1, pool.FreePages);
        Assert.True(pool.TryAllocate(1, more));
        Assert.True(pool.TryAllocate(0, more));
        Assert.Equal([42, 3], more);
        Assert.Equal(0, pool.FreePages);
    }

    [Fact]
    public void Freed_pages_are_handed_out_again()
    {
        var pool = new KvPagePool(2);
        var pages = new List<int>();
        Assert.True(pool.TryAllocate(2, pages));

        pool.Free([1, 0]);

        Assert.Equal(2, pool.FreePages);
        var again = new List<int>();
        Assert.True(pool.TryAllocate(2, again));
        Assert.Equal([0, 1], again.Order());
    }

    [Fact]
    public void Freeing_a_page_twice_throws_and_changes_nothing()
    {
        var pool = new KvPagePool(4);
        var pages = new List<int>();
        Assert.True(pool.TryAllocate(3, pages));
        pool.Free([0]);

        Assert.Throws<InvalidOperationException>(() => pool.Free([1, 0]));
        Assert.Equal(2, pool.FreePages);
        Assert.True(pool.IsAllocated(1));

        // A page listed twice in one call is a double free too.
        Assert.Throws<InvalidOperationException>(() => pool.Free([2, 2]));
        Assert.Equal(2, pool.FreePages);
        Assert.True(pool.IsAllocated(2));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4)]
    public void Freeing_a_page_out_of_range_throws(int page)
    {
        var pool = new KvPagePool(4);
        Assert.Throws<InvalidOperationException>(() => pool.Free([page]));
        Assert.Equal(4, pool.FreePages);
    }

    [Fact]
    public void Freeing_a_page_never_allocated_throws()
    {
        var pool = new KvPagePool(4);
        Assert.Throws<InvalidOperationException>(() => pool.Free([3]));
    }
}
