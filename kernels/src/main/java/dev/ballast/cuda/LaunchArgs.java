package dev.ballast.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

/**
 * Builds the {@code void** kernelParams} array of a {@code cuLaunchKernel} call in a reusable native
 * buffer: each argument's value is written at its natural alignment and a pointer to it appended.
 * One instance per thread ({@link #get()}); the driver copies the values during the launch call, so
 * the buffer can be reused right after. Each argument's {@link Kind} is kept beside it, so a test can compare the
 * packing with the kernel's C parameter list (the driver itself never checks it).
 */
final class LaunchArgs {
    /** What one argument is, as the kernel's C parameter must be declared: its class, size and alignment in bytes. */
    enum Kind {
        PTR("pointer", 8, 8), I64("64-bit integer", 8, 8), I32("32-bit integer", 4, 4), U16("16-bit integer", 2, 2),
        F32("float", 4, 4), F64("double", 8, 8), ND("NdArgs struct", NdArgs.BYTES, 8);

        final String what;
        final long size, align;

        Kind(String what, long size, long align) {
            this.what = what;
            this.size = size;
            this.align = align;
        }

        @Override public String toString() { return what + " (" + size + " bytes)"; }
    }

    private static final int VALUE_BYTES = 4096, MAX_ARGS = 32;
    private static final ThreadLocal<LaunchArgs> PER_THREAD = ThreadLocal.withInitial(LaunchArgs::new);

    private final MemorySegment values = Arena.ofAuto().allocate(VALUE_BYTES, 16);
    private final MemorySegment pointers = Arena.ofAuto().allocate(8L * MAX_ARGS, 8);
    private final Kind[] kinds = new Kind[MAX_ARGS];
    private long pos;
    private int count;

    /** This thread's builder, emptied. */
    static LaunchArgs get() {
        LaunchArgs a = PER_THREAD.get();
        a.pos = 0;
        a.count = 0;
        return a;
    }

    private long slot(Kind kind) {
        pos = (pos + kind.align - 1) / kind.align * kind.align;
        long at = pos;
        pos += kind.size;
        if (pos > VALUE_BYTES || count == MAX_ARGS) throw new IllegalStateException("too many kernel arguments");
        kinds[count] = kind;
        pointers.setAtIndex(ValueLayout.ADDRESS, count++, values.asSlice(at, kind.size));
        return at;
    }

    /** A device pointer ({@code T*}, 8 bytes). */
    LaunchArgs ptr(long devicePtr) { values.set(ValueLayout.JAVA_LONG, slot(Kind.PTR), devicePtr); return this; }

    /** A {@code long long}. */
    LaunchArgs i64(long v) { values.set(ValueLayout.JAVA_LONG, slot(Kind.I64), v); return this; }

    /** An {@code int}. */
    LaunchArgs i32(int v) { values.set(ValueLayout.JAVA_INT, slot(Kind.I32), v); return this; }

    /** A {@code float}. */
    LaunchArgs f32(float v) { values.set(ValueLayout.JAVA_FLOAT, slot(Kind.F32), v); return this; }

    /** A {@code double}. */
    LaunchArgs f64(double v) { values.set(ValueLayout.JAVA_DOUBLE, slot(Kind.F64), v); return this; }

    /** An {@code unsigned short}. */
    LaunchArgs u16(short v) { values.set(ValueLayout.JAVA_SHORT, slot(Kind.U16), v); return this; }

    /** An {@code NdArgs} struct by value. */
    LaunchArgs nd(NdArgs nd) { nd.write(values, slot(Kind.ND)); return this; }

    /** The {@code void**} to pass as kernelParams. */
    MemorySegment params() { return pointers; }

    /** Number of arguments added. */
    int count() { return count; }

    /** The kinds of the arguments added, in order. */
    List<Kind> kinds() { return List.of(Arrays.copyOf(kinds, count)); }
}
