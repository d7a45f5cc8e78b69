package dev.ballast.cuda;

import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;

/**
 * What the kernel-launching primitives ({@link CudaElementwise}, {@link CudaReductions}, {@link CudaMultiTensor})
 * need from their backend: operand addresses, the three launch shapes, a few stream-ordered memory operations and
 * the graph-capture guards. {@link CudaBackend} provides it on a device; a test records the launches through its
 * own, without one, to check each kernel's argument packing against the {@code .cu} source.
 */
interface KernelHost {
    /** The device address of a view's first element (registered with a graph capture in progress); fails when it lives elsewhere. */
    long pointer(Strided s);

    /** The device address of byte 0 of a storage of this backend. */
    long storagePtr(Storage s);

    /** Makes the device's context current on the calling OS thread (before the first driver call of a primitive). */
    void bind();

    /** Streaming multiprocessors on the device (grid sizing). */
    int multiprocessors();

    /** Grid-stride launch over {@code work} items. */
    void launch(String file, String kernel, long work, LaunchArgs a);

    /** An explicit grid of {@code blocks} blocks of {@code threads} threads. */
    void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a);

    /** One block per row. */
    void launchBlocks(String file, String kernel, long rows, LaunchArgs a);

    /** Queues a device-to-device copy of {@code bytes}. */
    void copyDeviceToDevice(long dst, long src, long bytes);

    /** Queues zeroing {@code bytes} at {@code dst}. */
    void zero(long dst, long bytes);

    /** Device memory of at least {@code bytes} (refused during a graph capture). */
    Storage allocate(long bytes);

    /** Queues a host-to-device copy (refused during a graph capture). */
    void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes);

    /** Fills a contiguous view with {@code value}. */
    void fill(Strided dst, double value);

    /** Throws when {@code what} cannot happen while a graph is being captured, saying to do {@code instead}. */
    void refuseDuringCapture(String what, String instead);

    /** Keeps these storages alive for the lifetime of the graph being captured, if any (once per capture). */
    void retainForCapture(Storage... storages);
}
