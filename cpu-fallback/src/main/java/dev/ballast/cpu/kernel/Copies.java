package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.ballast.engine.backend.Strided;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Strided copy with dtype conversion (the engine's {@code contiguous()} and cast) and fill. Copies
 * between equal dtypes move raw bits (NaN payloads survive); conversions follow {@link Buffers}.
 */
public final class Copies {
    private Copies() {}

    /** Copies {@code src} in row-major order of its shape into {@code dst}, laid out row-major from dst's offset. */
    public static void copy(Parallel par, View src, View dst) {
        if (src.numel() != dst.numel())
            throw new IllegalArgumentException("copy: source " + Arrays.toString(src.shape()) + " has " + src.numel()
                    + " elements but destination " + Arrays.toString(dst.shape()) + " has " + dst.numel());
        // same shape: honour dst strides (a strided write); otherwise dst is a contiguous reshape of src
        long[] dstStrides = Arrays.equals(src.shape(), dst.shape()) ? dst.strides() : Strided.rowMajorStrides(src.shape());
        Rows.Plan p = Rows.plan(src.shape(), src.strides(), dstStrides);
        long ss = p.inner(0), ds = p.inner(1);
        long[] base = {src.offset(), dst.offset()};
        if (src.dtype() == dst.dtype()) {
            int es = src.dtype().byteSize();
            Rows.run(par, p, base, () -> (offs, len) -> rawRow(src.seg(), offs[0], ss, dst.seg(), offs[1], ds, len, es));
            return;
        }
        if (HalfConversions.handles(src.dtype(), dst.dtype())) {
            Rows.run(par, p, base, () -> (offs, len) ->
                    HalfConversions.row(src.dtype(), src.seg(), offs[0], ss, dst.dtype(), dst.seg(), offs[1], ds, len));
            return;
        }
        Rows.run(par, p, base, () -> {
            if (!src.floating()) {   // from integers through long: exact for I64, and I64 to F32 rounds once
                long[] buf = new long[Elementwise.CHUNK];
                return (offs, len) -> {
                    for (int c = 0; c < len; c += Elementwise.CHUNK) {
                        int n = Math.min(Elementwise.CHUNK, len - c);
                        Buffers.loadL(src.dtype(), src.seg(), offs[0] + c * ss, ss, buf, n);
                        Buffers.storeL(dst.dtype(), dst.seg(), offs[1] + c * ds, ds, buf, n);
                    }
                };
            }
            double[] buf = new double[Elementwise.CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += Elementwise.CHUNK) {
                    int n = Math.min(Elementwise.CHUNK, len - c);
                    Buffers.loadD(src.dtype(), src.seg(), offs[0] + c * ss, ss, buf, n);
                    Buffers.storeD(dst.dtype(), dst.seg(), offs[1] + c * ds, ds, buf, n);
                }
            };
        });
    }

    /** Copies {@code len} elements of {@code es} bytes bit for bit. */
    static void rawRow(MemorySegment s, long so, long ss, MemorySegment d, long dOff, long ds, int len, int es) {
        if (ss == 1 && ds == 1) {
            MemorySegment.copy(s, so * es, d, dOff * es, (long) len * es);
            return;
        }
        switch (es) {
            case 2 -> { for (int i = 0; i < len; i++) d.set(JAVA_SHORT, (dOff + i * ds) * 2, s.get(JAVA_SHORT, (so + i * ss) * 2)); }
            case 4 -> { for (int i = 0; i < len; i++) d.set(JAVA_INT, (dOff + i * ds) * 4, s.get(JAVA_INT, (so + i * ss) * 4)); }
            case 8 -> { for (int i = 0; i < len; i++) d.set(JAVA_LONG, (dOff + i * ds) * 8, s.get(JAVA_LONG, (so + i * ss) * 8)); }
            default -> throw new IllegalArgumentException("unsupported element size " + es);
        }
    }

    /** Sets every element of {@code dst} to {@code value} converted to its dtype. */
    public static void fill(Parallel par, View dst, double value) {
        int es = dst.dtype().byteSize();
        long bits = Buffers.bitsOf(dst.dtype(), value);
        Rows.Plan p = Rows.plan(dst.shape(), dst.strides());
        long ds = p.inner(0);
        Rows.run(par, p, new long[] {dst.offset()}, () -> (offs, len) -> {
            MemorySegment d = dst.seg();
            long o = offs[0];
            if (bits == 0 && ds == 1) {
                d.asSlice(o * es, (long) len * es).fill((byte) 0);
                return;
            }
            switch (es) {
                case 2 -> { short v = (short) bits; for (int i = 0; i < len; i++) d.set(JAVA_SHORT, (o + i * ds) * 2, v); }
                case 4 -> { int v = (int) bits; for (int i = 0; i < len; i++) d.set(JAVA_INT, (o + i * ds) * 4, v); }
                case 8 -> { for (int i = 0; i < len; i++) d.set(JAVA_LONG, (o + i * ds) * 8, bits); }
                default -> { for (int i = 0; i < len; i++) d.set(JAVA_BYTE, o + i * ds, (byte) bits); }
            }
        });
    }
}
