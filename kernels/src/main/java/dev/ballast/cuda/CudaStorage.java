package dev.ballast.cuda;

import dev.ballast.cuda.memory.CachingAllocator;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.Storage;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Device memory held by a {@link CudaBackend}: a block of its caching allocator, reference counted.
 * At count zero the block goes back to the allocator's cache (not to the driver); a storage that
 * becomes unreachable unreleased is returned by a {@link Cleaner} as a backstop.
 */
public final class CudaStorage implements Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final CudaBackend backend;
    private final long ptr, byteSize;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final Cleaner.Cleanable cleanable;

    CudaStorage(CudaBackend backend, CachingAllocator allocator, CachingAllocator.Block block, long byteSize) {
        this.backend = backend;
        this.ptr = block.ptr();
        this.byteSize = byteSize;
        this.cleanable = CLEANER.register(this, new Release(allocator, block));
    }

    /** Frees the block once, whether called by release() or by the cleaner; holds no reference to the storage. */
    private record Release(CachingAllocator allocator, CachingAllocator.Block block) implements Runnable {
        @Override public void run() { allocator.free(block); }
    }

    @Override public Backend backend() { return backend; }

    @Override public long byteSize() { return byteSize; }

    /** The device address of byte 0; fails when the storage was freed. */
    public long ptr() {
        if (refs.get() <= 0) throw new IllegalStateException("CUDA storage of " + byteSize + " bytes used after it was freed");
        return ptr;
    }

    @Override public void retain() {
        int r;
        do {
            r = refs.get();
            if (r <= 0) throw new IllegalStateException("retain() on a freed CUDA storage of " + byteSize + " bytes");
        } while (!refs.compareAndSet(r, r + 1));
    }

    @Override public void release() {
        int r = refs.decrementAndGet();
        if (r == 0) cleanable.clean();
        else if (r < 0) throw new IllegalStateException("release() on a freed CUDA storage of " + byteSize + " bytes");
    }

    @Override public boolean isFreed() { return refs.get() <= 0; }

    @Override public String toString() {
        return "CudaStorage[0x" + Long.toHexString(ptr) + ", " + byteSize + " bytes" + (isFreed() ? ", freed" : "") + "]";
    }
}
