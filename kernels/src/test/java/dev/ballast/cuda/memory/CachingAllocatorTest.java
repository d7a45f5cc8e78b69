package dev.ballast.cuda.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The allocator's bookkeeping against a fake device with a fixed capacity. */
class CachingAllocatorTest {

    /** A device with {@code capacity} bytes that hands out increasing fake addresses. */
    static final class FakeDevice implements DeviceMemory {
        final long capacity;
        long used, next = 0x7f0000000000L;
        int mallocs, frees;
        final Map<Long, Long> live = new HashMap<>();

        FakeDevice(long capacity) { this.capacity = capacity; }

        @Override public long malloc(long bytes) {
            if (used + bytes > capacity) throw new OutOfDeviceMemory("fake device full");
            long p = next;
            next += bytes + 4096;
            used += bytes;
            live.put(p, bytes);
            mallocs++;
            return p;
        }

        @Override public void free(long ptr) {
            Long b = live.remove(ptr);
            if (b == null) throw new IllegalStateException("free of unknown pointer");
            used -= b;
            frees++;
        }

        @Override public long[] memInfo() { return new long[] {capacity - used, capacity}; }
    }

    @Test
    void roundsSmallTo512AndLargeTo2MiB() {
        assertEquals(512, CachingAllocator.roundSize(0));
        assertEquals(512, CachingAllocator.roundSize(1));
        assertEquals(1024, CachingAllocator.roundSize(513));
        assertEquals(1L << 20, CachingAllocator.roundSize(1L << 20));
        assertEquals(2L << 20, CachingAllocator.roundSize((1L << 20) + 1));
        assertEquals(4L << 20, CachingAllocator.roundSize((2L << 20) + 1));
        assertThrows(IllegalArgumentException.class, () -> CachingAllocator.roundSize(-1));
    }

    @Test
    void reusesFreedBlocksOnTheSameStreamWithoutDriverCalls() {
        FakeDevice dev = new FakeDevice(1L << 30);
        CachingAllocator a = new CachingAllocator(dev);
        Object s = "stream";
        var b1 = a.allocate(1000, s);
        a.free(b1);
        var b2 = a.allocate(900, s); // same 1024 class
        assertEquals(b1.ptr(), b2.ptr());
        assertEquals(1, dev.mallocs);
        var other = a.allocate(900, "other stream");
        assertNotEquals(b1.ptr(), other.ptr(), "a block is not reused across streams");
        var stats = a.stats();
        assertEquals(2048, stats.allocated());
        assertEquals(1800, stats.requested());
        assertEquals(2048, stats.reserved());
        assertEquals(2, stats.driverAllocations());
    }

    @Test
    void smallClassesAreExactLargeMayBeSlightlyBigger() {
        FakeDevice dev = new FakeDevice(1L << 30);
        CachingAllocator a = new CachingAllocator(dev);
        var big = a.allocate(4096, 0);
        a.free(big);
        var small = a.allocate(512, 0);
        assertNotEquals(big.ptr(), small.ptr(), "a 4 KiB block is not spent on a 512 B request");
        var l1 = a.allocate(10L << 20, 0);
        a.free(l1);
        assertEquals(l1.ptr(), a.allocate(9L << 20, 0).ptr(), "10 MiB block serves a 9 MiB request");
        var l2 = a.allocate(64L << 20, 0);
        a.free(l2);
        assertNotEquals(l2.ptr(), a.allocate(8L << 20, 0).ptr(), "64 MiB block not spent on 8 MiB");
    }

    @Test
    void tracksPeakAndEmptiesCache() {
        FakeDevice dev = new FakeDevice(1L << 30);
        CachingAllocator a = new CachingAllocator(dev);
        var x = a.allocate(2L << 20, 0);
        var y = a.allocate(6L << 20, 0);
        a.free(x);
        a.free(y);
        var st = a.stats();
        assertEquals(0, st.allocated());
        assertEquals(8L << 20, st.peakAllocated());
        assertEquals(8L << 20, st.reserved());
        assertEquals(2, st.cachedBlocks());
        a.emptyCache();
        assertEquals(0, a.stats().reserved());
        assertEquals(0, dev.used);
        assertEquals(2, dev.frees);
    }

    @Test
    void outOfMemoryEmptiesCacheRetriesThenExplains() {
        FakeDevice dev = new FakeDevice(10L << 20);
        CachingAllocator a = new CachingAllocator(dev);
        var x = a.allocate(6L << 20, 0);
        a.free(x); // cached, still reserved
        var y = a.allocate(8L << 20, 0); // does not fit beside the cached 6 MiB: cache emptied, retried
        assertEquals(8L << 20, a.stats().allocated());
        assertEquals(1, dev.frees);
        var e = assertThrows(CachingAllocator.DeviceOutOfMemoryException.class, () -> a.allocate(4L << 20, 0));
        assertTrue(e.getMessage().contains("tried to allocate 4.00 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("2.00 MiB free of 10.00 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("8.00 MiB reserved"), e.getMessage());
        a.free(y);
    }

    @Test
    void doubleFreeIsAnError() {
        CachingAllocator a = new CachingAllocator(new FakeDevice(1L << 20));
        var b = a.allocate(10, 0);
        a.free(b);
        assertThrows(IllegalStateException.class, () -> a.free(b));
    }
}
