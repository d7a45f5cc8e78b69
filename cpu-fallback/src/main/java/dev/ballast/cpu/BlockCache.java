package dev.ballast.cpu;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A caching allocator for CPU tensor memory: freed native blocks of every size are kept for reuse, so a training
 * step that allocates the same tensors every iteration takes its memory from the cache after warm-up and makes
 * no C-library calls and no page faults (the C library hands blocks of 128 KiB and more straight back to the
 * kernel, and a fresh page costs a fault of some microseconds on first touch; a fresh 64 MB block costs about eight
 * times a copy into a warm one). Requests are rounded up to a size class: multiples of 64 bytes below 512, and
 * eight classes per power of two above (at most 12.5% slack). Freed blocks are kept up to a cap on cached bytes
 * ({@code ballast.cpu.cacheBytes}, default 2 GiB); past it they go back to the C library. Thread-safe: the
 * cleaner thread frees blocks too.
 */
final class BlockCache {
    /** Classes below this are plain multiples of 64 bytes. */
    private static final long SMALL_LIMIT = 512;
    /** One class per 64 bytes below 512, then eight per power of two up to 2^62. */
    private static final int CLASSES = 8 + (62 - 9 + 1) * 8;

    private static final long CAP = Long.getLong("ballast.cpu.cacheBytes", 2L << 30);
    private static final FreeList[] FREE = new FreeList[CLASSES];
    private static final AtomicLong CACHED = new AtomicLong();

    static {
        for (int i = 0; i < CLASSES; i++) FREE[i] = new FreeList();
    }

    private BlockCache() {}

    /** A stack of free block addresses of one size class. */
    private static final class FreeList {
        private long[] addresses = new long[8];
        private int size;

        synchronized void push(long address) {
            if (size == addresses.length) addresses = java.util.Arrays.copyOf(addresses, size * 2);
            addresses[size++] = address;
        }

        /** The most recently freed block (warmest in cache), or 0. */
        synchronized long pop() { return size == 0 ? 0 : addresses[--size]; }
    }

    /** The size a request is served with. */
    static long sizeClass(long bytes) {
        long r = NativeMemory.rounded(bytes);
        if (r < SMALL_LIMIT) return r;
        long step = Long.highestOneBit(r) >> 3; // eight classes per power of two: at most 12.5% slack
        return (r + step - 1) / step * step;
    }

    /** Index of a size class (a value {@link #sizeClass} returns). */
    static int classIndex(long size) {
        if (size < SMALL_LIMIT) return (int) (size >> 6);
        int lg = 63 - Long.numberOfLeadingZeros(size);
        long step = 1L << (lg - 3);
        return 8 + (lg - 9) * 8 + (int) ((size - (1L << lg)) / step);
    }

    /** A block of exactly {@code sizeClass(bytes)} bytes, reused when one is cached. */
    static long allocate(long bytes) {
        long size = sizeClass(bytes);
        long address = FREE[classIndex(size)].pop();
        if (address != 0) {
            CACHED.addAndGet(-size);
            return address;
        }
        return NativeMemory.allocate(size);
    }

    /** Returns a block obtained from {@link #allocate}; keeps it while the cache has room. */
    static void free(long address, long bytes) {
        long size = sizeClass(bytes);
        if (CACHED.addAndGet(size) <= CAP) {
            FREE[classIndex(size)].push(address);
            return;
        }
        CACHED.addAndGet(-size);
        NativeMemory.free(address);
    }

    /** Bytes held in the cache, not in use by any tensor. */
    static long cachedBytes() { return CACHED.get(); }

    /** Gives every cached block back to the C library. */
    static void empty() {
        for (int i = 0; i < CLASSES; i++) {
            FreeList f = FREE[i];
            for (long a = f.pop(); a != 0; a = f.pop()) {
                NativeMemory.free(a);
                CACHED.addAndGet(-classSize(i));
            }
        }
    }

    /** The size of class {@code i} (inverse of {@link #classIndex}). */
    static long classSize(int i) {
        if (i < 8) return (long) i << 6;
        int lg = 9 + (i - 8) / 8;
        return (1L << lg) + (long) ((i - 8) % 8) * (1L << (lg - 3));
    }
}
