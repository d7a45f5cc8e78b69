package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import java.lang.foreign.MemorySegment;

/**
 * Index-driven data movement over contiguous {@code [outer, n, inner]} views: indexSelect and its
 * adjoint indexAdd (one index list along the middle axis), gather and its adjoint scatterAdd (an index
 * per element). Every index is checked before anything is written. The accumulating kernels are
 * deterministic: they run in parallel over outer and inner only, never over the indexed axis, so
 * repeated indices accumulate in index order.
 */
public final class Indexing {
    private Indexing() {}

    private static final int COLS = 4096;

    /** Reads all {@code count} indices and fails on the first outside {@code [0, n)}. */
    private static long[] checkedIndices(String op, View index, long count, long n) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32)
            throw new IllegalArgumentException(op + ": index dtype must be i64 (or i32), got " + index.dtype());
        if (index.numel() != count)
            throw new IllegalArgumentException(op + ": index has " + index.numel() + " elements, expected " + count);
        long[] idx = new long[Math.toIntExact(count)];
        Buffers.loadL(index.dtype(), index.seg(), index.offset(), 1, idx, idx.length);
        for (int p = 0; p < idx.length; p++) {
            long v = idx[p];
            if (v < 0 || v >= n)
                throw new IndexOutOfBoundsException(op + ": index " + v + " (at position " + p
                        + ") is out of range for a dimension of size " + n + "; allowed [0, " + n + ")");
        }
        return idx;
    }

    private static void sameDtype(String op, View a, View b) {
        if (a.dtype() != b.dtype())
            throw new IllegalArgumentException(op + ": source dtype " + a.dtype() + " differs from destination dtype " + b.dtype());
    }

    private static void count(String op, String what, View v, long expected) {
        if (v.numel() != expected)
            throw new IllegalArgumentException(op + ": " + what + " has " + v.numel() + " elements, expected " + expected);
    }

    /** {@code out[o, j, i] = x[o, index[j], i]}. */
    public static void indexSelect(Parallel par, View x, long outer, long n, long inner, View index, View out) {
        sameDtype("indexSelect", x, out);
        long m = index.numel();
        count("indexSelect", "input", x, outer * n * inner);
        count("indexSelect", "output", out, outer * m * inner);
        long[] idx = checkedIndices("indexSelect", index, m, n);
        int es = x.dtype().byteSize();
        par.forEachUnit(outer * m, Math.max(1, Parallel.GRAIN / Math.max(1, inner)), u -> {
            long o = u / m, j = u % m;
            long src = x.offset() + (o * n + idx[(int) j]) * inner, dst = out.offset() + u * inner;
            MemorySegment.copy(x.seg(), src * es, out.seg(), dst * es, inner * es);
        });
    }

    /** {@code out[o, index[j], i] += src[o, j, i]}, repeated indices accumulating in order of j. */
    public static void indexAdd(Parallel par, View src, long outer, long m, long inner, View index, View out, long n) {
        sameDtype("indexAdd", src, out);
        count("indexAdd", "source", src, outer * m * inner);
        count("indexAdd", "output", out, outer * n * inner);
        long[] idx = checkedIndices("indexAdd", index, m, n);
        int w = (int) Math.min(Math.max(inner, 1), COLS);
        long chunks = (inner + w - 1) / w;
        DType t = out.dtype();
        par.forEachUnit(outer * chunks, Math.max(1, Parallel.GRAIN / Math.max(1, m * w)), u -> {
            long o = u / chunks, i0 = (u % chunks) * w;
            int cw = (int) Math.min(w, inner - i0);
            double[] a = t.isFloating() ? new double[cw] : null, b = t.isFloating() ? new double[cw] : null;
            long[] la = t.isFloating() ? null : new long[cw], lb = t.isFloating() ? null : new long[cw];
            for (long j = 0; j < m; j++) {
                long so = src.offset() + (o * m + j) * inner + i0;
                long oo = out.offset() + (o * n + idx[(int) j]) * inner + i0;
                if (t == DType.F32) {
                    VecF32.binary(BinaryOp.ADD, out.seg(), oo * 4, 4, src.seg(), so * 4, 4, out.seg(), oo * 4, cw);
                } else if (t.isFloating()) {
                    Buffers.loadD(t, out.seg(), oo, 1, a, cw);
                    Buffers.loadD(t, src.seg(), so, 1, b, cw);
                    for (int i = 0; i < cw; i++) a[i] += b[i];
                    Buffers.storeD(t, out.seg(), oo, 1, a, cw);
                } else {
                    Buffers.loadL(t, out.seg(), oo, 1, la, cw);
                    Buffers.loadL(t, src.seg(), so, 1, lb, cw);
                    for (int i = 0; i < cw; i++) la[i] += lb[i];
                    Buffers.storeL(t, out.seg(), oo, 1, la, cw);
                }
            }
        });
    }

    /** {@code out[o, j, i] = x[o, index[o, j, i], i]}. */
    public static void gather(Parallel par, View x, long outer, long n, long inner, View index, long m, View out) {
        sameDtype("gather", x, out);
        count("gather", "input", x, outer * n * inner);
        count("gather", "output", out, outer * m * inner);
        long[] idx = checkedIndices("gather", index, outer * m * inner, n);
        int es = x.dtype().byteSize();
        par.forEachUnit(outer * m, Math.max(1, Parallel.GRAIN / Math.max(1, inner)), u -> {
            long o = u / m;
            long base = u * inner;                                 // position of (o, j, 0) in index and out
            for (long i = 0; i < inner; i++) {
                long s = x.offset() + (o * n + idx[(int) (base + i)]) * inner + i;
                MemorySegment.copy(x.seg(), s * es, out.seg(), (out.offset() + base + i) * es, es);
            }
        });
    }

    /** {@code out[o, index[o, j, i], i] += src[o, j, i]}, accumulating in order of j. */
    public static void scatterAdd(Parallel par, View src, long outer, long m, long inner, View index, View out, long n) {
        sameDtype("scatterAdd", src, out);
        count("scatterAdd", "source", src, outer * m * inner);
        count("scatterAdd", "output", out, outer * n * inner);
        long[] idx = checkedIndices("scatterAdd", index, outer * m * inner, n);
        int w = (int) Math.min(Math.max(inner, 1), COLS);
        long chunks = (inner + w - 1) / w;
        DType t = out.dtype();
        par.forEachUnit(outer * chunks, Math.max(1, Parallel.GRAIN / Math.max(1, m * w)), u -> {
            long o = u / chunks, i0 = (u % chunks) * w;
            int cw = (int) Math.min(w, inner - i0);
            MemorySegment os = out.seg(), ss = src.seg();
            for (long j = 0; j < m; j++) {
                long rowPos = (o * m + j) * inner + i0;           // position of (o, j, i0) in index and src
                for (int i = 0; i < cw; i++) {
                    long dst = out.offset() + (o * n + idx[(int) (rowPos + i)]) * inner + i0 + i;
                    long s = src.offset() + rowPos + i;
                    if (t == DType.F32) os.setAtIndex(JAVA_FLOAT, dst, os.getAtIndex(JAVA_FLOAT, dst) + ss.getAtIndex(JAVA_FLOAT, s));
                    else if (t.isFloating()) Buffers.setD(t, os, dst, Buffers.getD(t, os, dst) + Buffers.getD(t, ss, s));
                    else Buffers.setL(t, os, dst, Buffers.getL(t, os, dst) + Buffers.getL(t, ss, s));
                }
            }
        });
    }
}
