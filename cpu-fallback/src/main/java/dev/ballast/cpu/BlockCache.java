package dev.ballast.cpu;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps freed large native blocks for reuse, so a training step that allocates the same large tensors every
 * iteration does not pay the kernel's page faults for fresh memory each time (a fresh 64 MB block costs about
 * eight times a copy into a warm one). Blocks of at least {@link #MIN_CACHED} bytes are rounded up to one of eight
 * size classes per power of two and kept, up to a cap of cached bytes ({@code ballast.cpu.cacheBytes}, default
 * 2 GiB); smaller blocks go straight back to the C library, whose own free lists serve them well. Thread-safe.
 */
final class BlockCache {
    /** Smallest block worth caching. */
    static final long MIN_CACHED = 1 << 20;

    private static final long CAP = Long.getLong("ballast.cpu.cacheBytes", 2L << 30);
    private static final ConcurrentHashMap<Long, ConcurrentLinkedDeque<Long>> FREE = new ConcurrentHashMap<>();
    private static final AtomicLong CACHED = new AtomicLong();

    private BlockCache() {}

    /** The size a request is served with: its size class for large blocks, else the aligned size. */
    static long sizeClass(long bytes) {
        long r = NativeMemory.rounded(bytes);
        if (r < MIN_CACHED) return r;
        long step = Long.highestOneBit(r) >> 3; // eight classes per power of two: at most 12.5% slack
        return (r + step - 1) / step * step;
    }

    /** A block of exactly {@code sizeClass(bytes)} bytes, reused when one is cached. */
    static long allocate(long bytes) {
        long size = sizeClass(bytes);
        if (size >= MIN_CACHED) {
            ConcurrentLinkedDeque<Long> q = FREE.get(size);
            Long address = q == null ? null : q.pollFirst();
            if (address != null) {
                CACHED.addAndGet(-size);
                return address;
            }
        }
        return NativeMemory.allocate(size);
    }

    /** Returns a block obtained from {@link #allocate}; keeps it when it is large and the cache has room. */
    static void free(long address, long bytes) {
        long size = sizeClass(bytes);
        if (size >= MIN_CACHED && CACHED.addAndGet(size) <= CAP) {
            FREE.computeIfAbsent(size, k -> new ConcurrentLinkedDeque<>()).addFirst(address);
            return;
        }
        if (size >= MIN_CACHED) CACHED.addAndGet(-size);
        NativeMemory.free(address);
    }

    /** Bytes held in the cache, not in use by any tensor. */
    static long cachedBytes() { return CACHED.get(); }

    /** Gives every cached block back to the C library. */
    static void empty() {
        for (var e : FREE.entrySet()) {
            for (Long a = e.getValue().pollFirst(); a != null; a = e.getValue().pollFirst()) {
                NativeMemory.free(a);
                CACHED.addAndGet(-e.getKey());
            }
        }
    }
}
