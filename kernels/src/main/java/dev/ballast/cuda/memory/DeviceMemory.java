package dev.ballast.cuda.memory;

/**
 * The driver calls the {@link CachingAllocator} needs, behind an interface so its bookkeeping can be
 * tested without a GPU. {@link #malloc} throws {@link OutOfDeviceMemory} when memory ran out (any
 * other failure is thrown as it is).
 */
public interface DeviceMemory {
    /** Thrown by {@link #malloc} when the device has no room for the request. */
    final class OutOfDeviceMemory extends RuntimeException {
        private static final long serialVersionUID = 1L;
        public OutOfDeviceMemory(String message) { super(message); }
    }

    /** Allocates {@code bytes} of device memory and returns its address. */
    long malloc(long bytes);

    /** Frees an address {@link #malloc} returned. */
    void free(long ptr);

    /** {free, total} bytes on the device, for out-of-memory messages. */
    long[] memInfo();
}
