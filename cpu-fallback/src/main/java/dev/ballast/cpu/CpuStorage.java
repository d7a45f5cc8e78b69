package dev.ballast.cpu;

import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.Storage;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native memory for CPU tensors: a 64-byte aligned block from {@code aligned_alloc} (the size rounded
 * up to 64; a zero-byte storage holds no block), reference counted starting at one. The last
 * {@link #release()} frees it at once; a {@link Cleaner} frees it if the storage becomes unreachable
 * first. After the free, {@link #retain()} and {@link #segment()} throw IllegalStateException
 * ("tensor memory already freed") instead of touching freed memory.
 */
@SuppressWarnings("restricted")   // reinterpret gives the raw block its exact size
public final class CpuStorage implements Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    /** What the cleaner needs to free the block; it must not reach the storage, or the storage never becomes unreachable. */
    private static final class Block implements Runnable {
        final long address, byteSize;
        final AtomicLong accounting;
        final AtomicBoolean freed = new AtomicBoolean();

        Block(long address, long byteSize, AtomicLong accounting) {
            this.address = address;
            this.byteSize = byteSize;
            this.accounting = accounting;
        }

        @Override public void run() {
            if (freed.compareAndSet(false, true)) {
                if (address != 0) BlockCache.free(address, byteSize);
                accounting.addAndGet(-byteSize);
            }
        }
    }

    private final Backend backend;
    private final Block block;
    private final Cleaner.Cleanable cleanable;
    private final MemorySegment segment;
    private final AtomicInteger refs = new AtomicInteger(1);

    /** Allocates {@code byteSize} bytes, counting them in {@code accounting} until freed. */
    CpuStorage(Backend backend, long byteSize, AtomicLong accounting) {
        if (byteSize < 0) throw new IllegalArgumentException("cannot allocate a negative size: " + byteSize + " bytes");
        this.backend = backend;
        long address = byteSize == 0 ? 0 : BlockCache.allocate(byteSize);
        this.block = new Block(address, byteSize, accounting);
        accounting.addAndGet(byteSize);
        this.segment = MemorySegment.ofAddress(address).reinterpret(byteSize);
        this.cleanable = CLEANER.register(this, block);
    }

    @Override public Backend backend() { return backend; }

    @Override public long byteSize() { return block.byteSize; }

    @Override public void retain() {
        while (true) {
            int r = refs.get();
            if (r <= 0 || block.freed.get()) throw new IllegalStateException("tensor memory already freed");
            if (refs.compareAndSet(r, r + 1)) return;
        }
    }

    @Override public void release() {
        while (true) {
            int r = refs.get();
            if (r <= 0) throw new IllegalStateException("tensor memory already freed (released more times than retained)");
            if (refs.compareAndSet(r, r - 1)) {
                if (r == 1) cleanable.clean();
                return;
            }
        }
    }

    @Override public boolean isFreed() { return block.freed.get(); }

    /** The memory, exactly {@link #byteSize()} bytes; fails once freed. */
    public MemorySegment segment() {
        if (block.freed.get()) throw new IllegalStateException("tensor memory already freed");
        return segment;
    }

    /** Native address of the block (0 for an empty storage). */
    public long address() { return block.address; }

    @Override public String toString() {
        return "CpuStorage[" + block.byteSize + " bytes" + (isFreed() ? ", freed" : "") + "]";
    }
}
