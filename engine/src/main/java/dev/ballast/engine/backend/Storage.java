package dev.ballast.engine.backend;

/**
 * A block of memory owned by one backend. Tensors share a storage through views and release it with
 * reference counting; the backend frees the memory when the count reaches zero (or, as a backstop,
 * when the storage becomes unreachable).
 */
public interface Storage {
    /** The backend that owns this memory. */
    Backend backend();

    /** Size in bytes. */
    long byteSize();

    /** Adds a reference; fails when the storage was already freed. */
    void retain();

    /** Drops a reference, freeing the memory at zero. */
    void release();

    /** True once the memory has been freed. */
    boolean isFreed();
}
