package dev.ballast.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.LongAdder;

/** {@code aligned_alloc} and {@code free} from the C library, bound once through the FFM linker. */
@SuppressWarnings("restricted")   // native access is the point; the JVM runs with --enable-native-access
final class NativeMemory {
    private NativeMemory() {}

    /** Alignment of every block: a cache line, and the widest vector register. */
    static final long ALIGNMENT = 64;

    private static final MethodHandle ALIGNED_ALLOC;
    private static final MethodHandle FREE;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        ALIGNED_ALLOC = linker.downcallHandle(
                libc.find("aligned_alloc").orElseThrow(() -> new UnsatisfiedLinkError("aligned_alloc not found in the C library")),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(
                libc.find("free").orElseThrow(() -> new UnsatisfiedLinkError("free not found in the C library")),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private static final LongAdder ALLOCATIONS = new LongAdder();
    private static final LongAdder FREES = new LongAdder();

    /** Calls to aligned_alloc so far (every CPU backend in the JVM). */
    static long allocations() { return ALLOCATIONS.sum(); }

    /** Calls to free so far. */
    static long frees() { return FREES.sum(); }

    /** Bytes actually reserved for a request: rounded up to the alignment (aligned_alloc requires a multiple). */
    static long rounded(long bytes) { return (bytes + ALIGNMENT - 1) & -ALIGNMENT; }

    /** Allocates {@code bytes} (> 0, already rounded) and returns the address; throws OutOfMemoryError on failure. */
    static long allocate(long bytes) {
        MemorySegment p;
        try {
            p = (MemorySegment) ALIGNED_ALLOC.invokeExact(ALIGNMENT, bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("aligned_alloc failed: " + t, t);
        }
        ALLOCATIONS.increment();
        if (p.address() == 0) throw new OutOfMemoryError("could not allocate " + bytes + " bytes of native memory for a CPU tensor");
        return p.address();
    }

    static void free(long address) {
        FREES.increment();
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw new IllegalStateException("free failed: " + t, t);
        }
    }
}
