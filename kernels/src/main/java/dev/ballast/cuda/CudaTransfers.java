package dev.ballast.cuda;

import dev.ballast.engine.backend.Storage;
import java.lang.foreign.MemorySegment;

/**
 * Host-device copies of a {@link CudaBackend}, in stream order: native host memory goes straight to the driver;
 * heap memory goes through one page-locked staging buffer, 8 MiB at a time. A copy to the host waits for the
 * work that produced its data.
 */
final class CudaTransfers {
    private static final long STAGING_BYTES = 8L << 20;

    private final CudaBackend backend;
    private final CudaDevice device;
    private final Object stagingLock = new Object();
    private MemorySegment staging; // page-locked, for heap segments; guarded by stagingLock

    CudaTransfers(CudaBackend backend, CudaDevice device) {
        this.backend = backend;
        this.device = device;
    }

    void copyFromHost(MemorySegment src, Storage dst, long dstByteOffset, long bytes) {
        backend.refuseDuringCapture("copy " + bytes + " bytes from the host", "upload before capturing");
        long d = backend.devicePtr(dst, dstByteOffset, bytes, "copyFromHost");
        if (bytes > src.byteSize()) throw new IndexOutOfBoundsException("copyFromHost of " + bytes + " bytes from a host segment of " + src.byteSize());
        if (bytes == 0) return;
        if (src.isNative()) {
            // Pageable memory is staged by the driver before the call returns, so src may be reused at once.
            device.cu.memcpyHtoDAsync(d, src, bytes, device.stream);
            return;
        }
        synchronized (stagingLock) {
            MemorySegment st = staging();
            for (long done = 0; done < bytes; done += STAGING_BYTES) {
                long n = Math.min(STAGING_BYTES, bytes - done);
                device.cu.streamSynchronize(device.stream); // the previous chunk has left the staging buffer
                MemorySegment.copy(src, done, st, 0, n);
                device.cu.memcpyHtoDAsync(d + done, st, n, device.stream);
            }
            device.cu.streamSynchronize(device.stream);
        }
    }

    void copyToHost(Storage src, long srcByteOffset, MemorySegment dst, long bytes) {
        backend.refuseDuringCapture("copy " + bytes + " bytes to the host", "read results after replaying the graph");
        long s = backend.devicePtr(src, srcByteOffset, bytes, "copyToHost");
        if (bytes > dst.byteSize()) throw new IndexOutOfBoundsException("copyToHost of " + bytes + " bytes into a host segment of " + dst.byteSize());
        if (bytes == 0) { device.cu.streamSynchronize(device.stream); return; }
        if (dst.isNative()) {
            device.cu.memcpyDtoHAsync(dst, s, bytes, device.stream);
            device.cu.streamSynchronize(device.stream);
            return;
        }
        synchronized (stagingLock) {
            MemorySegment st = staging();
            for (long done = 0; done < bytes; done += STAGING_BYTES) {
                long n = Math.min(STAGING_BYTES, bytes - done);
                device.cu.memcpyDtoHAsync(st, s + done, n, device.stream);
                device.cu.streamSynchronize(device.stream);
                MemorySegment.copy(st, 0, dst, done, n);
            }
        }
    }

    private MemorySegment staging() {
        if (staging == null) staging = device.cu.memAllocHost(STAGING_BYTES);
        return staging;
    }
}
