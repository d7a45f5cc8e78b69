package dev.ballast.cpu.kernel;

import dev.ballast.cpu.matmul.CpuMatmul;
import dev.ballast.engine.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head self-attention over the packed projection {@code qkv [B, T, 3E]} (see the engine's
 * {@code FusedAttention} for the layouts), one (batch entry, head) pair per work item: the products read q, k and v
 * in place through their strides ({@link CpuMatmul} on the calling thread), so no head is ever copied out, and the
 * scaled, masked softmax and its gradient run on the score rows in between. Items are independent (each writes its
 * own block of {@code probs}, its own columns of {@code out} and its own q, k and v columns of {@code dqkv}), so
 * the results do not depend on the thread count. F32 score rows are computed in double ({@link VecExp}, fixed-order
 * sums from {@link VecRows}) and rounded once, so their bits do not depend on the JIT tier either.
 */
public final class AttentionHeads {
    private AttentionHeads() {}

    private static final VectorSpecies<Double> D = F32Rows.D;
    private static final int L = F32Rows.L;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Multiply-adds of the products per task, roughly: small heads are grouped so a task is worth a hand-off. */
    private static final long WORK_PER_TASK = 1L << 20;

    /** The sizes of one call, with the element offsets of an item's operands. */
    private record Dims(int batch, int time, int heads, int headDim, boolean causal, double scale) {
        long e() { return (long) heads * headDim; }
        long qkvRow() { return 3 * e(); }
        int items() { return batch * heads; }
        /** Element offset of item {@code it}'s q columns (k: + E, v: + 2E) within qkv / dqkv. */
        long q(long base, int it) { return base + (long) (it / heads) * time * qkvRow() + (long) (it % heads) * headDim; }
        /** Element offset of item {@code it}'s columns within out / gOut. */
        long o(long base, int it) { return base + (long) (it / heads) * time * e() + (long) (it % heads) * headDim; }
        /** Element offset of item {@code it}'s [T, T] block within probs / scratch. */
        long p(long base, int it) { return base + (long) it * time * time; }
        /** Keys row {@code i} attends to. */
        int seen(int i) { return causal ? i + 1 : time; }
        long itemsPerTask() { return Math.max(1, WORK_PER_TASK / Math.max(1, 5L * time * time * headDim)); }
    }

    /** {@code out = softmax(scale q k^T [masked]) v} per item, the weights kept in {@code probs}. */
    public static void forward(Parallel par, View qkv, int batch, int time, int heads, int headDim, boolean causal, double scale,
                               View out, View probs) {
        Dims d = new Dims(batch, time, heads, headDim, causal, scale);
        boolean f32 = qkv.dtype() == DType.F32;
        long per = d.itemsPerTask();
        par.forEach(Parallel.tasks(d.items(), per), t -> {
            double[][] w = work(d.time());
            for (int it = (int) (t * per), end = (int) Math.min(d.items(), (t + 1) * per); it < end; it++) {
                long q = d.q(qkv.offset(), it), k = q + d.e(), v = q + 2 * d.e(), p = d.p(probs.offset(), it), o = d.o(out.offset(), it);
                // S = Q K^T: K^T read as k's columns (row stride 1, column stride one qkv row)
                gemm(f32, d.time(), d.time(), d.headDim(), qkv.seg(), q, d.qkvRow(), 1, qkv.seg(), k, 1, d.qkvRow(), probs.seg(), p, d.time());
                for (int i = 0; i < d.time(); i++) {
                    long row = p + (long) i * d.time();
                    if (f32) softmaxRowF32(w, probs.seg(), row, d.time(), d.seen(i), d.scale());
                    else softmaxRowF64(w, probs.seg(), row, d.time(), d.seen(i), d.scale());
                }
                gemm(f32, d.time(), d.headDim(), d.time(), probs.seg(), p, d.time(), 1, qkv.seg(), v, d.qkvRow(), 1, out.seg(), o, d.e());
            }
        });
    }

    /** The gradient with respect to qkv, written into every element of {@code dqkv}; {@code scratch} holds dP, then dS. */
    public static void backward(Parallel par, View qkv, View probs, View gOut, int batch, int time, int heads, int headDim, boolean causal,
                                double scale, View scratch, View dqkv) {
        Dims d = new Dims(batch, time, heads, headDim, causal, scale);
        boolean f32 = qkv.dtype() == DType.F32;
        long per = d.itemsPerTask();
        int tt = d.time(), dh = d.headDim();
        long row3 = d.qkvRow();
        par.forEach(Parallel.tasks(d.items(), per), t -> {
            double[][] w = work(tt);
            for (int it = (int) (t * per), end = (int) Math.min(d.items(), (t + 1) * per); it < end; it++) {
                long q = d.q(qkv.offset(), it), k = q + d.e(), v = q + 2 * d.e();
                long dq = d.q(dqkv.offset(), it), dk = dq + d.e(), dv = dq + 2 * d.e();
                long p = d.p(probs.offset(), it), s = d.p(scratch.offset(), it), g = d.o(gOut.offset(), it);
                // dV = P^T gOut (P^T: row stride 1, column stride T)
                gemm(f32, tt, dh, tt, probs.seg(), p, 1, tt, gOut.seg(), g, d.e(), 1, dqkv.seg(), dv, row3);
                // dP = gOut V^T, then dS = scale P (dP - rowsum(dP P)) in place, row by row
                gemm(f32, tt, tt, dh, gOut.seg(), g, d.e(), 1, qkv.seg(), v, 1, row3, scratch.seg(), s, tt);
                for (int i = 0; i < tt; i++) {
                    long pr = p + (long) i * tt, sr = s + (long) i * tt;
                    if (f32) gradRowF32(w, probs.seg(), pr, scratch.seg(), sr, tt, d.seen(i), d.scale());
                    else gradRowF64(probs.seg(), pr, scratch.seg(), sr, tt, d.seen(i), d.scale());
                }
                // dQ = dS K, dK = dS^T Q
                gemm(f32, tt, dh, tt, scratch.seg(), s, tt, 1, qkv.seg(), k, row3, 1, dqkv.seg(), dq, row3);
                gemm(f32, tt, dh, tt, scratch.seg(), s, 1, tt, qkv.seg(), q, row3, 1, dqkv.seg(), dk, row3);
            }
        });
    }

    /** One product {@code C = A B} on the calling thread; offsets and strides in elements. */
    private static void gemm(boolean f32, int m, int n, int k, MemorySegment a, long aOff, long ars, long acs,
                             MemorySegment b, long bOff, long brs, long bcs, MemorySegment c, long cOff, long crs) {
        if (f32) CpuMatmul.gemmF32(1, m, n, k, a, aOff, 0, ars, acs, b, bOff, 0, brs, bcs, c, cOff, 0, crs, null);
        else CpuMatmul.gemmF64(1, m, n, k, a, aOff, 0, ars, acs, b, bOff, 0, brs, bcs, c, cOff, 0, crs, null);
    }

    /** Two double rows padded to whole vectors, one pair per task. */
    private static double[][] work(int n) {
        int p = F32Rows.padded(n);
        return new double[][]{new double[p], new double[p]};
    }

    /** Row at element {@code row}: its first {@code len} scores become {@code softmax(scale s)}, the rest exact zeros. */
    private static void softmaxRowF32(double[][] w, MemorySegment seg, long row, int n, int len, double scale) {
        int p = F32Rows.padded(len);
        double[] v = w[0], e = w[1];
        F32Rows.widen(seg, 4 * row, v, len, p);
        scale(v, scale, p);
        Arrays.fill(v, len, p, Double.NEGATIVE_INFINITY); // padding: never the maximum, exp gives 0
        VecRows.add(v, -SoftmaxF32.max(v, p), p);
        VecExp.exp(v, e, p);
        SoftmaxF32.divide(e, VecRows.sum(e, p), p);
        F32Rows.narrow(e, seg, 4 * row, len);
        if (len < n) seg.asSlice(4 * (row + len), 4L * (n - len)).fill((byte) 0);
    }

    /** Row of dP at element {@code sRow} becomes {@code scale P (dP - sum(dP P))} over the first {@code len} keys, zeros after. */
    private static void gradRowF32(double[][] w, MemorySegment probs, long pRow, MemorySegment s, long sRow, int n, int len, double scale) {
        int p = F32Rows.padded(len);
        double[] y = w[0], g = w[1];
        F32Rows.widen(probs, 4 * pRow, y, len, p);
        F32Rows.widen(s, 4 * sRow, g, len, p); // zero padding: adds nothing to the dot product
        double dot = VecRows.dot(y, g, p);
        scaledProductOfDifference(y, g, dot, scale, p);
        F32Rows.narrow(y, s, 4 * sRow, len);
        if (len < n) s.asSlice(4 * (sRow + len), 4L * (n - len)).fill((byte) 0);
    }

    private static void softmaxRowF64(double[][] w, MemorySegment seg, long row, int n, int len, double scale) {
        double[] v = w[0];
        MemorySegment.copy(seg, F64, 8 * row, v, 0, len);
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < len; j++) max = Math.max(max, v[j] *= scale);
        double sum = 0;
        for (int j = 0; j < len; j++) sum += v[j] = Math.exp(v[j] - max);
        for (int j = 0; j < len; j++) v[j] /= sum;
        MemorySegment.copy(v, 0, seg, F64, 8 * row, len);
        if (len < n) seg.asSlice(8 * (row + len), 8L * (n - len)).fill((byte) 0);
    }

    private static void gradRowF64(MemorySegment probs, long pRow, MemorySegment s, long sRow, int n, int len, double scale) {
        double dot = 0;
        for (int j = 0; j < len; j++) dot += probs.getAtIndex(F64, pRow + j) * s.getAtIndex(F64, sRow + j);
        for (int j = 0; j < len; j++) {
            double y = probs.getAtIndex(F64, pRow + j);
            s.setAtIndex(F64, sRow + j, scale * (y * (s.getAtIndex(F64, sRow + j) - dot)));
        }
        if (len < n) s.asSlice(8 * (sRow + len), 8L * (n - len)).fill((byte) 0);
    }

    /** {@code v[i] *= c}. */
    private static void scale(double[] v, double c, int n) {
        for (int i = 0; i < n; i += L) DoubleVector.fromArray(D, v, i).mul(c).intoArray(v, i);
    }

    /** {@code y[i] = c (y[i] (g[i] - dot))}. */
    private static void scaledProductOfDifference(double[] y, double[] g, double dot, double c, int n) {
        for (int i = 0; i < n; i += L)
            DoubleVector.fromArray(D, g, i).sub(dot).mul(DoubleVector.fromArray(D, y, i)).mul(c).intoArray(y, i);
    }
}
