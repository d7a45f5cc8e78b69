package dev.ballast.cpu;

import static java.lang.foreign.ValueLayout.*;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Helpers shared by the CPU backend tests: building tensors from Java arrays and reading them back. */
final class TestSupport {
    private TestSupport() {}

    /** The backend most tests use; two threads, so the parallel paths run even on a small machine. */
    static final CpuBackend CPU = new CpuBackend(2);

    static MemorySegment seg(Strided s) { return ((CpuStorage) s.storage()).segment(); }

    /** A contiguous tensor of dtype t holding values (converted as a cast would: rounded or truncated). */
    static Strided tensor(CpuBackend be, DType t, double[] values, long... shape) {
        Storage st = be.allocate((long) values.length * t.byteSize());
        Strided s = Strided.contiguous(st, t, 0, shape);
        MemorySegment m = seg(s);
        for (int i = 0; i < values.length; i++) set(t, m, i, values[i]);
        return s;
    }

    static Strided tensor(DType t, double[] values, long... shape) { return tensor(CPU, t, values, shape); }

    static Strided longs(DType t, long[] values, long... shape) {
        Strided s = Strided.contiguous(CPU.allocate((long) values.length * t.byteSize()), t, 0, shape);
        for (int i = 0; i < values.length; i++) {
            if (t == DType.I64) seg(s).setAtIndex(JAVA_LONG, i, values[i]);
            else seg(s).setAtIndex(JAVA_INT, i, (int) values[i]);
        }
        return s;
    }

    static Strided empty(CpuBackend be, DType t, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return Strided.contiguous(be.allocate(n * t.byteSize()), t, 0, shape);
    }

    static Strided empty(DType t, long... shape) { return empty(CPU, t, shape); }

    static void set(DType t, MemorySegment m, long i, double v) {
        switch (t) {
            case F32 -> m.setAtIndex(JAVA_FLOAT, i, (float) v);
            case F64 -> m.setAtIndex(JAVA_DOUBLE, i, v);
            case F16 -> m.setAtIndex(JAVA_SHORT, i, HalfFloats.doubleToF16(v));
            case BF16 -> m.setAtIndex(JAVA_SHORT, i, HalfFloats.doubleToBf16(v));
            case I32 -> m.setAtIndex(JAVA_INT, i, (int) v);
            case I64 -> m.setAtIndex(JAVA_LONG, i, (long) v);
        }
    }

    static double get(DType t, MemorySegment m, long i) {
        return switch (t) {
            case F32 -> m.getAtIndex(JAVA_FLOAT, i);
            case F64 -> m.getAtIndex(JAVA_DOUBLE, i);
            case F16 -> HalfFloats.f16ToFloat(m.getAtIndex(JAVA_SHORT, i));
            case BF16 -> HalfFloats.bf16ToFloat(m.getAtIndex(JAVA_SHORT, i));
            case I32 -> m.getAtIndex(JAVA_INT, i);
            case I64 -> m.getAtIndex(JAVA_LONG, i);
        };
    }

    /** The elements of a contiguous tensor, from its offset, as doubles. */
    static double[] read(Strided s) {
        double[] r = new double[Math.toIntExact(s.numel())];
        for (int i = 0; i < r.length; i++) r[i] = get(s.dtype(), seg(s), s.offset() + i);
        return r;
    }

    static long[] readLongs(Strided s) {
        long[] r = new long[Math.toIntExact(s.numel())];
        for (int i = 0; i < r.length; i++)
            r[i] = s.dtype() == DType.I64 ? seg(s).getAtIndex(JAVA_LONG, s.offset() + i) : seg(s).getAtIndex(JAVA_INT, s.offset() + i);
        return r;
    }

    /** n uniform values in [lo, hi), never exactly zero. */
    static double[] uniform(Random r, int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x;
            do x = lo + (hi - lo) * r.nextDouble(); while (x == 0);
            v[i] = x;
        }
        return v;
    }

    /** Values rounded to what dtype t holds, so references start from the same inputs. */
    static double[] representable(DType t, double[] v) {
        MemorySegment m = MemorySegment.ofArray(new long[v.length]);
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) { set(t, m, i, v[i]); r[i] = get(t, m, i); }
        return r;
    }

    /** Distance in units of the last place of the result dtype at the reference value. */
    static double ulps(DType t, double got, double ref) {
        if (Double.isNaN(ref)) return Double.isNaN(got) ? 0 : Double.POSITIVE_INFINITY;
        if (got == ref) return 0;
        double ulp = t == DType.F32 ? Math.ulp((float) ref) : Math.ulp(ref);
        return Math.abs(got - ref) / ulp;
    }
}
