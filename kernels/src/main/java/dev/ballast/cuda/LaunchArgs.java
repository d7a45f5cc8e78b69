package dev.ballast.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Builds the {@code void** kernelParams} array of a {@code cuLaunchKernel} call in a reusable native
 * buffer: each argument's value is written at its natural alignment and a pointer to it appended.
 * One instance per thread ({@link #get()}); the driver copies the values during the launch call, so
 * the buffer can be reused right after.
 */
final class LaunchArgs {
    private static final int VALUE_BYTES = 4096, MAX_ARGS = 32;
    private static final ThreadLocal<LaunchArgs> PER_THREAD = ThreadLocal.withInitial(LaunchArgs::new);

    private final MemorySegment values = Arena.ofAuto().allocate(VALUE_BYTES, 16);
    private final MemorySegment pointers = Arena.ofAuto().allocate(8L * MAX_ARGS, 8);
    private long pos;
    private int count;

    /** This thread's builder, emptied. */
    static LaunchArgs get() {
        LaunchArgs a = PER_THREAD.get();
        a.pos = 0;
        a.count = 0;
        return a;
    }

    private long slot(long size, long align) {
        pos = (pos + align - 1) / align * align;
        long at = pos;
        pos += size;
        if (pos > VALUE_BYTES || count == MAX_ARGS) throw new IllegalStateException("too many kernel arguments");
        pointers.setAtIndex(ValueLayout.ADDRESS, count++, values.asSlice(at, size));
        return at;
    }

    /** A device pointer ({@code T*}, 8 bytes). */
    LaunchArgs ptr(long devicePtr) { values.set(ValueLayout.JAVA_LONG, slot(8, 8), devicePtr); return this; }

    /** A {@code long long}. */
    LaunchArgs i64(long v) { values.set(ValueLayout.JAVA_LONG, slot(8, 8), v); return this; }

    /** An {@code int}. */
    LaunchArgs i32(int v) { values.set(ValueLayout.JAVA_INT, slot(4, 4), v); return this; }

    /** A {@code float}. */
    LaunchArgs f32(float v) { values.set(ValueLayout.JAVA_FLOAT, slot(4, 4), v); return this; }

    /** A {@code double}. */
    LaunchArgs f64(double v) { values.set(ValueLayout.JAVA_DOUBLE, slot(8, 8), v); return this; }

    /** An {@code unsigned short}. */
    LaunchArgs u16(short v) { values.set(ValueLayout.JAVA_SHORT, slot(2, 2), v); return this; }

    /** An {@code NdArgs} struct by value. */
    LaunchArgs nd(NdArgs nd) { nd.write(values, slot(NdArgs.BYTES, 8)); return this; }

    /** The {@code void**} to pass as kernelParams. */
    MemorySegment params() { return pointers; }

    /** Number of arguments added. */
    int count() { return count; }
}
