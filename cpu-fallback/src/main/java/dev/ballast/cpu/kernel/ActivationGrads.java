package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import dev.ballast.engine.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The ReLU and tanh gradients in one pass each, over F32 or F64 operands of one dtype: what autograd otherwise
 * composes from a comparison and a product (ReLU: {@code g * (x > 0)}) or a square, a difference and a product (tanh:
 * {@code g * (1 - y^2)}), each a pass over memory with a temporary. Every element goes through the same operations,
 * each rounded in the operands' dtype, as the composed ops, so the results are bit for bit theirs: ReLU's is the
 * product of {@code g} with a 0/1 mask (a NaN or infinite {@code g} where {@code x <= 0} gives NaN, as there).
 * Contiguous F32 rows are vector loops; other layouts and F64 are scalar.
 */
public final class ActivationGrads {
    private ActivationGrads() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** {@code out = g * (x > 0 ? 1 : 0)}. */
    public static void reluBackward(Parallel par, View x, View g, View out) { run(par, x, g, out, true); }

    /** {@code out = g * (1 - y * y)}. */
    public static void tanhBackward(Parallel par, View y, View g, View out) { run(par, y, g, out, false); }

    private static void run(Parallel par, View x, View g, View out, boolean relu) {
        String what = relu ? "relu backward" : "tanh backward";
        Elementwise.checkShape(what, x, out);
        Elementwise.checkShape(what, g, out);
        DType t = out.dtype();
        if ((t != DType.F32 && t != DType.F64) || x.dtype() != t || g.dtype() != t)
            throw new IllegalArgumentException(what + " takes F32 or F64 operands of one dtype, got " + x.dtype() + ", "
                    + g.dtype() + ", " + t);
        Rows.Plan p = Rows.plan(out.shape(), x.strides(), g.strides(), out.strides());
        long xs = p.inner(0), gs = p.inner(1), os = p.inner(2);
        long[] base = {x.offset(), g.offset(), out.offset()};
        MemorySegment xm = x.seg(), gm = g.seg(), om = out.seg();
        if (t == DType.F32 && xs == 1 && gs == 1 && os == 1) {
            Rows.run(par, p, base, () -> relu
                    ? (offs, len) -> reluF32(xm, offs[0] * 4, gm, offs[1] * 4, om, offs[2] * 4, len)
                    : (offs, len) -> tanhF32(xm, offs[0] * 4, gm, offs[1] * 4, om, offs[2] * 4, len));
        } else if (t == DType.F32) {
            Rows.run(par, p, base, () -> (offs, len) -> scalarF32(relu, xm, offs[0], xs, gm, offs[1], gs, om, offs[2], os, len));
        } else {
            Rows.run(par, p, base, () -> (offs, len) -> scalarF64(relu, xm, offs[0], xs, gm, offs[1], gs, om, offs[2], os, len));
        }
    }

    private static void reluF32(MemorySegment x, long xb, MemorySegment g, long gb, MemorySegment o, long ob, int n) {
        FloatVector zero = FloatVector.zero(S), one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (int e = n - n % L; i < e; i += L) {
            long d = 4L * i;
            FloatVector mask = zero.blend(one, FloatVector.fromMemorySegment(S, x, xb + d, NO).compare(VectorOperators.GT, 0f));
            FloatVector.fromMemorySegment(S, g, gb + d, NO).mul(mask).intoMemorySegment(o, ob + d, NO);
        }
        for (; i < n; i++) {
            long d = 4L * i;
            o.set(JAVA_FLOAT_UNALIGNED, ob + d, g.get(JAVA_FLOAT_UNALIGNED, gb + d) * (x.get(JAVA_FLOAT_UNALIGNED, xb + d) > 0f ? 1f : 0f));
        }
    }

    private static void tanhF32(MemorySegment y, long yb, MemorySegment g, long gb, MemorySegment o, long ob, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (int e = n - n % L; i < e; i += L) {
            long d = 4L * i;
            FloatVector yv = FloatVector.fromMemorySegment(S, y, yb + d, NO);
            FloatVector.fromMemorySegment(S, g, gb + d, NO).mul(one.sub(yv.mul(yv))).intoMemorySegment(o, ob + d, NO);
        }
        for (; i < n; i++) {
            long d = 4L * i;
            float yv = y.get(JAVA_FLOAT_UNALIGNED, yb + d);
            o.set(JAVA_FLOAT_UNALIGNED, ob + d, g.get(JAVA_FLOAT_UNALIGNED, gb + d) * (1f - yv * yv));
        }
    }

    private static void scalarF32(boolean relu, MemorySegment x, long xo, long xs, MemorySegment g, long go, long gs,
                                  MemorySegment o, long oo, long os, int n) {
        for (int i = 0; i < n; i++) {
            float v = x.get(JAVA_FLOAT_UNALIGNED, 4 * (xo + i * xs)), gv = g.get(JAVA_FLOAT_UNALIGNED, 4 * (go + i * gs));
            o.set(JAVA_FLOAT_UNALIGNED, 4 * (oo + i * os), relu ? gv * (v > 0f ? 1f : 0f) : gv * (1f - v * v));
        }
    }

    private static void scalarF64(boolean relu, MemorySegment x, long xo, long xs, MemorySegment g, long go, long gs,
                                  MemorySegment o, long oo, long os, int n) {
        for (int i = 0; i < n; i++) {
            double v = x.get(JAVA_DOUBLE_UNALIGNED, 8 * (xo + i * xs)), gv = g.get(JAVA_DOUBLE_UNALIGNED, 8 * (go + i * gs));
            o.set(JAVA_DOUBLE_UNALIGNED, 8 * (oo + i * os), relu ? gv * (v > 0 ? 1 : 0) : gv * (1 - v * v));
        }
    }
}
