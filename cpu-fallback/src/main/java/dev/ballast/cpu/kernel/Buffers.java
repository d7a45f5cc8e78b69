package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import java.lang.foreign.MemorySegment;

/**
 * Moves runs of elements between native memory and Java work arrays: floating values travel as
 * double (exact for every floating dtype), integers as long (exact for I32 and I64). Offsets and
 * strides are in elements. Conversions on store follow the cast rules: float to integer truncates
 * toward zero (NaN gives 0, out-of-range values saturate), to F16/BF16 rounds once to nearest even.
 */
public final class Buffers {
    private Buffers() {}

    /** Loads {@code n} elements starting at element {@code off}, {@code stride} apart, as doubles. */
    public static void loadD(DType t, MemorySegment s, long off, long stride, double[] buf, int n) {
        switch (t) {
            case F32 -> {
                if (stride == 1) { long b = off * 4; for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_FLOAT, b + 4L * i); }
                else for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_FLOAT, (off + i * stride) * 4);
            }
            case F64 -> {
                if (stride == 1) MemorySegment.copy(s, JAVA_DOUBLE, off * 8, buf, 0, n);
                else for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_DOUBLE, (off + i * stride) * 8);
            }
            case F16 -> { for (int i = 0; i < n; i++) buf[i] = Float.float16ToFloat(s.get(JAVA_SHORT, (off + i * stride) * 2)); }
            case BF16 -> { for (int i = 0; i < n; i++) buf[i] = HalfFloats.bf16ToFloat(s.get(JAVA_SHORT, (off + i * stride) * 2)); }
            case I32 -> { for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_INT, (off + i * stride) * 4); }
            case I64 -> { for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_LONG, (off + i * stride) * 8); }
        }
    }

    /** Loads {@code n} elements as longs (floating values truncate toward zero). */
    public static void loadL(DType t, MemorySegment s, long off, long stride, long[] buf, int n) {
        switch (t) {
            case I32 -> {
                if (stride == 1) { long b = off * 4; for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_INT, b + 4L * i); }
                else for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_INT, (off + i * stride) * 4);
            }
            case I64 -> {
                if (stride == 1) MemorySegment.copy(s, JAVA_LONG, off * 8, buf, 0, n);
                else for (int i = 0; i < n; i++) buf[i] = s.get(JAVA_LONG, (off + i * stride) * 8);
            }
            default -> {
                double[] tmp = new double[n];
                loadD(t, s, off, stride, tmp, n);
                for (int i = 0; i < n; i++) buf[i] = (long) tmp[i];
            }
        }
    }

    /** Stores {@code n} doubles converted to {@code t}. */
    public static void storeD(DType t, MemorySegment s, long off, long stride, double[] buf, int n) {
        switch (t) {
            case F32 -> {
                if (stride == 1) { long b = off * 4; for (int i = 0; i < n; i++) s.set(JAVA_FLOAT, b + 4L * i, (float) buf[i]); }
                else for (int i = 0; i < n; i++) s.set(JAVA_FLOAT, (off + i * stride) * 4, (float) buf[i]);
            }
            case F64 -> {
                if (stride == 1) MemorySegment.copy(buf, 0, s, JAVA_DOUBLE, off * 8, n);
                else for (int i = 0; i < n; i++) s.set(JAVA_DOUBLE, (off + i * stride) * 8, buf[i]);
            }
            case F16 -> { for (int i = 0; i < n; i++) s.set(JAVA_SHORT, (off + i * stride) * 2, toF16(buf[i])); }
            case BF16 -> { for (int i = 0; i < n; i++) s.set(JAVA_SHORT, (off + i * stride) * 2, toBf16(buf[i])); }
            case I32 -> { for (int i = 0; i < n; i++) s.set(JAVA_INT, (off + i * stride) * 4, (int) buf[i]); }
            case I64 -> { for (int i = 0; i < n; i++) s.set(JAVA_LONG, (off + i * stride) * 8, (long) buf[i]); }
        }
    }

    /** Stores {@code n} longs converted to {@code t} (I32 keeps the low 32 bits, as integer overflow wraps). */
    public static void storeL(DType t, MemorySegment s, long off, long stride, long[] buf, int n) {
        switch (t) {
            case I32 -> { for (int i = 0; i < n; i++) s.set(JAVA_INT, (off + i * stride) * 4, (int) buf[i]); }
            case I64 -> {
                if (stride == 1) MemorySegment.copy(buf, 0, s, JAVA_LONG, off * 8, n);
                else for (int i = 0; i < n; i++) s.set(JAVA_LONG, (off + i * stride) * 8, buf[i]);
            }
            case F32 -> { for (int i = 0; i < n; i++) s.set(JAVA_FLOAT, (off + i * stride) * 4, (float) buf[i]); }
            case F64 -> { for (int i = 0; i < n; i++) s.set(JAVA_DOUBLE, (off + i * stride) * 8, (double) buf[i]); }
            case F16 -> { for (int i = 0; i < n; i++) s.set(JAVA_SHORT, (off + i * stride) * 2, HalfFloats.doubleToF16((double) buf[i])); }
            case BF16 -> { for (int i = 0; i < n; i++) s.set(JAVA_SHORT, (off + i * stride) * 2, HalfFloats.doubleToBf16((double) buf[i])); }
        }
    }

    /** One element as a double. */
    public static double getD(DType t, MemorySegment s, long index) {
        return switch (t) {
            case F32 -> s.get(JAVA_FLOAT, index * 4);
            case F64 -> s.get(JAVA_DOUBLE, index * 8);
            case F16 -> Float.float16ToFloat(s.get(JAVA_SHORT, index * 2));
            case BF16 -> HalfFloats.bf16ToFloat(s.get(JAVA_SHORT, index * 2));
            case I32 -> s.get(JAVA_INT, index * 4);
            case I64 -> s.get(JAVA_LONG, index * 8);
        };
    }

    /** One element as a long (floating values truncate). */
    public static long getL(DType t, MemorySegment s, long index) {
        return switch (t) {
            case I32 -> s.get(JAVA_INT, index * 4);
            case I64 -> s.get(JAVA_LONG, index * 8);
            default -> (long) getD(t, s, index);
        };
    }

    /** Sets one element from a double (converted as on store). */
    public static void setD(DType t, MemorySegment s, long index, double v) {
        switch (t) {
            case F32 -> s.set(JAVA_FLOAT, index * 4, (float) v);
            case F64 -> s.set(JAVA_DOUBLE, index * 8, v);
            case F16 -> s.set(JAVA_SHORT, index * 2, toF16(v));
            case BF16 -> s.set(JAVA_SHORT, index * 2, toBf16(v));
            case I32 -> s.set(JAVA_INT, index * 4, (int) v);
            case I64 -> s.set(JAVA_LONG, index * 8, (long) v);
        }
    }

    /** Sets one element from a long (converted as on store). */
    public static void setL(DType t, MemorySegment s, long index, long v) {
        switch (t) {
            case I32 -> s.set(JAVA_INT, index * 4, (int) v);
            case I64 -> s.set(JAVA_LONG, index * 8, v);
            default -> setD(t, s, index, (double) v);
        }
    }

    /** The raw bit pattern of {@code value} converted to {@code t}, in the low {@code t.byteSize()} bytes. */
    public static long bitsOf(DType t, double value) {
        return switch (t) {
            case F32 -> Float.floatToRawIntBits((float) value) & 0xFFFF_FFFFL;
            case F64 -> Double.doubleToRawLongBits(value);
            case F16 -> toF16(value) & 0xFFFFL;
            case BF16 -> toBf16(value) & 0xFFFFL;
            case I32 -> ((int) value) & 0xFFFF_FFFFL;
            case I64 -> (long) value;
        };
    }

    /** double to F16; a value that is exactly a float takes the (intrinsic) float path, which rounds identically. */
    static short toF16(double d) {
        float f = (float) d;
        return (double) f == d ? Float.floatToFloat16(f) : HalfFloats.doubleToF16(d);
    }

    /** double to BF16; a value that is exactly a float takes the float path, which rounds identically. */
    static short toBf16(double d) {
        float f = (float) d;
        return (double) f == d ? HalfFloats.floatToBf16(f) : HalfFloats.doubleToBf16(d);
    }
}
