package dev.ballast.cuda;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BackendProvider;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Test helpers for the GPU parity tests: the CUDA backend (or the reason there is none), the CPU
 * backend found by name through {@link ServiceLoader} (so this module compiles without its class),
 * uploads and downloads of double values in any dtype, and NaN-aware comparison.
 */
final class GpuBackends {
    private GpuBackends() {}

    private static final BackendProvider.Probe CUDA = new CudaBackendProvider().open();
    private static final Backend CPU = openCpu();

    private static Backend openCpu() {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class))
            if (p.name().equals("cpu") && p.open() instanceof BackendProvider.Probe.Available a) return a.backend();
        return null;
    }

    /**
     * System property that turns "no GPU" from a skip into a failure: set by the emulated-GPU stage
     * (scripts/emulated-gpu.sh) and the GPU check, where every GPU test must run.
     */
    static final String REQUIRE_GPU_PROPERTY = "ballast.test.requireGpu";

    /** The CUDA backend; skips the calling test with the reason when no GPU answers (fails instead under {@value #REQUIRE_GPU_PROPERTY}). */
    static CudaBackend cuda() {
        if (CUDA instanceof BackendProvider.Probe.Unavailable u) {
            if (Boolean.getBoolean(REQUIRE_GPU_PROPERTY)) Assertions.fail("no CUDA backend (" + REQUIRE_GPU_PROPERTY + " is set): " + u.reason());
            Assumptions.abort("no CUDA backend: " + u.reason());
        }
        return (CudaBackend) ((BackendProvider.Probe.Available) CUDA).backend();
    }

    /**
     * Whether the device is a small one (fewer than 4 streaming multiprocessors): the emulated device of
     * tools/fakecuda reports 1 and runs each CUDA thread as an OS thread, so long loops shrink there. Every GPU a
     * user trains on has dozens.
     */
    static boolean smallDevice() {
        return cuda().multiprocessors() < 4;
    }

    /** {@code full} on a real GPU, {@code small} on a small (emulated) device; prints the choice so a log says which ran. */
    static int sized(String what, int full, int small) {
        int n = smallDevice() ? small : full;
        if (n != full) System.out.println("[gpu test] " + what + ": " + n + " on this small device (" + full + " on a GPU)");
        return n;
    }

    /** The CPU backend; skips the calling test when it is not on the class path. */
    static Backend cpu() {
        Assumptions.assumeTrue(CPU != null, "no 'cpu' BackendProvider on the class path to compare against");
        return CPU;
    }

    static void put(MemorySegment seg, DType t, long i, double v) {
        switch (t) {
            case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
            case F64 -> seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
            case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16((float) v));
            case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT, i, HalfBits.toBf16((float) v));
            case I32 -> seg.setAtIndex(ValueLayout.JAVA_INT, i, (int) v);
            case I64 -> seg.setAtIndex(ValueLayout.JAVA_LONG, i, (long) v);
        }
    }

    static double get(MemorySegment seg, DType t, long i) {
        return switch (t) {
            case F32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case F64 -> seg.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            case F16 -> Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT, i));
            case BF16 -> Float.intBitsToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT, i) << 16);
            case I32 -> seg.getAtIndex(ValueLayout.JAVA_INT, i);
            case I64 -> seg.getAtIndex(ValueLayout.JAVA_LONG, i);
        };
    }

    /** A new storage on {@code b} holding {@code values} converted to {@code t}. */
    static Storage upload(Backend b, DType t, double[] values) {
        Storage s = b.allocate((long) values.length * t.byteSize());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, (long) values.length * t.byteSize()), 8);
            for (int i = 0; i < values.length; i++) put(seg, t, i, values[i]);
            b.copyFromHost(seg, s, 0, (long) values.length * t.byteSize());
        }
        return s;
    }

    /**
     * A contiguous view of {@code v} on {@code b} at element {@code offset} of a new storage whose first {@code offset}
     * elements hold {@code fill} (so a kernel that ignores the offset reads the wrong values); the storage is added
     * to {@code owned} for the test to release.
     */
    static Strided uploadAt(Backend b, DType t, double[] v, int offset, double fill, java.util.List<Storage> owned) {
        double[] padded = new double[v.length + offset];
        java.util.Arrays.fill(padded, 0, offset, fill);
        System.arraycopy(v, 0, padded, offset, v.length);
        Storage s = upload(b, t, padded);
        owned.add(s);
        return Strided.contiguous(s, t, offset, v.length);
    }

    /** The elements of a contiguous view, as doubles. */
    static double[] download(Strided v) {
        Backend b = v.storage().backend();
        int n = (int) v.numel();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(Math.max(1, (long) n * v.dtype().byteSize()), 8);
            b.copyToHost(v.storage(), v.offset() * v.dtype().byteSize(), seg, (long) n * v.dtype().byteSize());
            double[] out = new double[n];
            for (int i = 0; i < n; i++) out[i] = get(seg, v.dtype(), i);
            return out;
        }
    }

    /** |a - e| <= atol + rtol |e| elementwise; NaN only matches NaN, infinities must be equal. */
    static void assertClose(double[] expected, double[] actual, double rtol, double atol, String what) {
        Assertions.assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e) || Double.isNaN(a)) {
                if (Double.isNaN(e) != Double.isNaN(a)) Assertions.fail(what + " [" + i + "]: expected " + e + ", got " + a);
                continue;
            }
            if (Double.isInfinite(e) || Double.isInfinite(a)) {
                if (e != a) Assertions.fail(what + " [" + i + "]: expected " + e + ", got " + a);
                continue;
            }
            if (Math.abs(a - e) > atol + rtol * Math.abs(e))
                Assertions.fail(what + " [" + i + "]: expected " + e + ", got " + a + " (|diff| " + Math.abs(a - e) + ")");
        }
    }
}
