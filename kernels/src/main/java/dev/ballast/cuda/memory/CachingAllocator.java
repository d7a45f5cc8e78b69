package dev.ballast.cuda.memory;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching device allocator in the manner of PyTorch's: freed blocks go back to a cache and are
 * handed out again without a driver call, so a training step allocates nothing from the driver after
 * warm-up (a requirement for CUDA graph capture and for speed).
 *
 * <p>Sizes: requests up to {@value #SMALL_LIMIT} bytes round up to a multiple of {@value #SMALL_ROUND}
 * bytes and are reused only for the same rounded size; larger requests round up to a multiple of
 * {@value #LARGE_ROUND} bytes (2 MiB) and may reuse a cached block up to {@value #LARGE_ROUND} bytes
 * or 1/8 bigger. Blocks are never split, which keeps the bookkeeping small at some cost in waste.
 *
 * <p>Stream order: a block freed on a stream is reused only by allocations on the same stream, whose
 * later work is ordered after the work that used the block, so no event or sync is needed.
 *
 * <p>Out of memory: the cache is emptied and the driver call retried once; if that also fails a
 * {@link DeviceOutOfMemoryException} says how much was asked for, what is free and what is reserved.
 * All methods are thread-safe.
 */
public final class CachingAllocator {
    public static final long SMALL_LIMIT = 1L << 20;
    public static final long SMALL_ROUND = 512;
    public static final long LARGE_ROUND = 2L << 20;

    /** A block handed out by the allocator: its device address, its rounded size and what was asked for. */
    public static final class Block {
        private final long ptr, size;
        private final Object stream;
        private long requested;
        private boolean inUse;

        Block(long ptr, long size, Object stream) {
            this.ptr = ptr;
            this.size = size;
            this.stream = stream;
        }

        public long ptr() { return ptr; }
        public long size() { return size; }
        public long requested() { return requested; }
        public Object stream() { return stream; }
    }

    /**
     * Counters: bytes in use (rounded) and as requested, bytes reserved from the driver (in use plus
     * cached), the peak of in-use bytes, and how many driver allocations and frees were made.
     */
    public record Stats(long allocated, long requested, long reserved, long peakAllocated,
                        long driverAllocations, long driverFrees, int cachedBlocks) {}

    /** The device is out of memory even after the cache was emptied. */
    public static final class DeviceOutOfMemoryException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        public DeviceOutOfMemoryException(String message, Throwable cause) { super(message, cause); }
    }

    private final DeviceMemory device;
    private final Map<Object, TreeMap<Long, ArrayDeque<Block>>> cache = new HashMap<>();
    private long allocated, requested, reserved, peak, driverAllocs, driverFrees;
    private int cachedBlocks;

    public CachingAllocator(DeviceMemory device) {
        this.device = device;
    }

    /** The size a request is rounded to. */
    public static long roundSize(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        long b = Math.max(bytes, 1);
        long unit = b <= SMALL_LIMIT ? SMALL_ROUND : LARGE_ROUND;
        return Math.ceilDiv(b, unit) * unit;
    }

    /** A block of at least {@code bytes} for work on {@code stream}, from the cache when one fits. */
    public synchronized Block allocate(long bytes, Object stream) {
        long size = roundSize(bytes);
        Block b = takeCached(size, stream);
        if (b == null) b = fresh(size, bytes, stream);
        b.inUse = true;
        b.requested = bytes;
        allocated += b.size;
        requested += bytes;
        peak = Math.max(peak, allocated);
        return b;
    }

    /** Returns a block to the cache; freeing one twice is an error. */
    public synchronized void free(Block b) {
        if (!b.inUse) throw new IllegalStateException("block at 0x" + Long.toHexString(b.ptr) + " freed twice");
        b.inUse = false;
        allocated -= b.size;
        requested -= b.requested;
        cache.computeIfAbsent(b.stream, s -> new TreeMap<>()).computeIfAbsent(b.size, s -> new ArrayDeque<>()).push(b);
        cachedBlocks++;
    }

    /** Gives every cached (unused) block back to the driver. */
    public synchronized void emptyCache() {
        for (TreeMap<Long, ArrayDeque<Block>> bySize : cache.values())
            for (ArrayDeque<Block> q : bySize.values())
                for (Block b : q) {
                    device.free(b.ptr);
                    reserved -= b.size;
                    driverFrees++;
                }
        cache.clear();
        cachedBlocks = 0;
    }

    public synchronized Stats stats() {
        return new Stats(allocated, requested, reserved, peak, driverAllocs, driverFrees, cachedBlocks);
    }

    /** Bytes requested by blocks now in use. */
    public synchronized long requestedBytes() { return requested; }

    /** Resets the peak to the current in-use bytes. */
    public synchronized void resetPeak() { peak = allocated; }

    private Block takeCached(long size, Object stream) {
        TreeMap<Long, ArrayDeque<Block>> bySize = cache.get(stream);
        if (bySize == null) return null;
        var e = bySize.ceilingEntry(size);
        if (e == null) return null;
        long limit = size <= SMALL_LIMIT ? size : size + Math.max(LARGE_ROUND, size / 8);
        if (e.getKey() > limit) return null;
        Block b = e.getValue().pop();
        if (e.getValue().isEmpty()) bySize.remove(e.getKey());
        cachedBlocks--;
        return b;
    }

    private Block fresh(long size, long bytes, Object stream) {
        long ptr;
        try {
            ptr = device.malloc(size);
        } catch (DeviceMemory.OutOfDeviceMemory first) {
            emptyCache();
            try {
                ptr = device.malloc(size);
            } catch (DeviceMemory.OutOfDeviceMemory second) {
                long[] info = safeMemInfo();
                throw new DeviceOutOfMemoryException("CUDA out of memory: tried to allocate " + mib(bytes)
                        + " (" + bytes + " bytes, rounded to " + size + "); the device has " + mib(info[0]) + " free of "
                        + mib(info[1]) + "; Ballast has " + mib(reserved) + " reserved, " + mib(allocated)
                        + " of it in use (the cache was emptied and the allocation retried)", second);
            }
        }
        driverAllocs++;
        reserved += size;
        return new Block(ptr, size, stream);
    }

    private long[] safeMemInfo() {
        try {
            return device.memInfo();
        } catch (RuntimeException e) {
            return new long[] {-1, -1};
        }
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "unknown" : String.format(java.util.Locale.ROOT, "%.2f MiB", bytes / 1048576.0);
    }
}
