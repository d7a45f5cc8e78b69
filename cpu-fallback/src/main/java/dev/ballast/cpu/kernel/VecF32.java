package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops for contiguous F32 rows. Each operand is addressed as {@code base + step * i}
 * bytes with step 4 (contiguous) or 0 (a broadcast scalar, read from a small "splat" buffer that
 * holds one vector's worth of copies; a task runs on one thread, so it may keep its splat), so one loop serves the tensor-tensor and scalar forms without
 * branching per element. The operator is a constant in each loop, as the Vector API needs for
 * intrinsification.
 */
public final class VecF32 {
    private VecF32() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Doubles of the same total width as {@link #S}: a float vector widens into two of these. */
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    static final ByteOrder NO = ByteOrder.nativeOrder();
    /** Floats as many as {@link #D} has doubles: transcendental ops widen them, compute in double and round once. */
    static final VectorSpecies<Float> FH = VectorSpecies.of(float.class, jdk.incubator.vector.VectorShape.forBitSize(D.vectorBitSize() / 2));

    /** {@code FH.length()} floats at byte address {@code at}, widened to doubles. */
    private static DoubleVector widen(MemorySegment s, long at) {
        return (DoubleVector) FloatVector.fromMemorySegment(FH, s, at, NO).convertShape(VectorOperators.F2D, D, 0);
    }

    /** Per-thread splat buffers (two, for two scalar operands), freed with the thread. */
    private static final ThreadLocal<MemorySegment> SPLATS =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(2L * 64 * 4, 64));

    /** A buffer (slot 0 or 1) filled with copies of {@code v}, to be read with step 0. */
    static MemorySegment splat(int slot, float v) {
        MemorySegment s = SPLATS.get().asSlice(slot * 64L * 4, 64L * 4);
        for (int i = 0; i < L; i++) s.setAtIndex(JAVA_FLOAT, i, v);
        return s;
    }

    /** Whether {@link #binary} has a vector loop for {@code op}. */
    public static boolean supports(BinaryOp op) {
        return switch (op) {
            case ADD, SUB, MUL, DIV, MAX, MIN -> true;
            default -> false;
        };
    }

    /** Whether {@link #unary} has a vector loop for {@code op}. */
    public static boolean supports(UnaryOp op) {
        return switch (op) {
            case NEG, ABS, SQRT, RELU, SQUARE, RECIPROCAL, TANH, SIGMOID, EXP -> true;
            default -> false;
        };
    }

    /** {@code o[i] = op(a[i], b[i])}; byte addresses {@code ab + as*i}, {@code bb + bs*i}, {@code ob + 4*i}. */
    public static void binary(BinaryOp op, MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs,
                              MemorySegment o, long ob, int n) {
        switch (op) {
            case ADD -> add(a, ab, as, b, bb, bs, o, ob, n);
            case SUB -> sub(a, ab, as, b, bb, bs, o, ob, n);
            case MUL -> mul(a, ab, as, b, bb, bs, o, ob, n);
            case DIV -> div(a, ab, as, b, bb, bs, o, ob, n);
            case MAX -> max(a, ab, as, b, bb, bs, o, ob, n);
            case MIN -> min(a, ab, as, b, bb, bs, o, ob, n);
            default -> throw new IllegalArgumentException("no vector loop for " + op);
        }
    }

    private static FloatVector ld(MemorySegment s, long at) { return FloatVector.fromMemorySegment(S, s, at, NO); }

    private static void add(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).add(ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, a.get(JAVA_FLOAT, ab + as * i) + b.get(JAVA_FLOAT, bb + bs * i));
    }

    private static void sub(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).sub(ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, a.get(JAVA_FLOAT, ab + as * i) - b.get(JAVA_FLOAT, bb + bs * i));
    }

    private static void mul(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).mul(ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, a.get(JAVA_FLOAT, ab + as * i) * b.get(JAVA_FLOAT, bb + bs * i));
    }

    private static void div(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).div(ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, a.get(JAVA_FLOAT, ab + as * i) / b.get(JAVA_FLOAT, bb + bs * i));
    }

    private static void max(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).lanewise(VectorOperators.MAX, ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, Math.max(a.get(JAVA_FLOAT, ab + as * i), b.get(JAVA_FLOAT, bb + bs * i)));
    }

    private static void min(MemorySegment a, long ab, long as, MemorySegment b, long bb, long bs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += L) ld(a, ab + as * i).lanewise(VectorOperators.MIN, ld(b, bb + bs * i)).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, Math.min(a.get(JAVA_FLOAT, ab + as * i), b.get(JAVA_FLOAT, bb + bs * i)));
    }

    /** {@code o[i] = op(x[i])}; byte addresses {@code xb + xs*i} and {@code ob + 4*i}. */
    public static void unary(UnaryOp op, MemorySegment x, long xb, long xs, MemorySegment o, long ob, int n) {
        int i = 0;
        int up = S.loopBound(n);
        switch (op) {
            case NEG -> {
                for (; i < up; i += L) ld(x, xb + xs * i).neg().intoMemorySegment(o, ob + 4L * i, NO);
                for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, -x.get(JAVA_FLOAT, xb + xs * i));
            }
            case ABS -> {
                for (; i < up; i += L) ld(x, xb + xs * i).abs().intoMemorySegment(o, ob + 4L * i, NO);
                for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, Math.abs(x.get(JAVA_FLOAT, xb + xs * i)));
            }
            case SQRT -> {
                for (; i < up; i += L) ld(x, xb + xs * i).sqrt().intoMemorySegment(o, ob + 4L * i, NO);
                for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, (float) Math.sqrt(x.get(JAVA_FLOAT, xb + xs * i)));
            }
            case RELU -> {
                FloatVector zero = FloatVector.zero(S);
                for (; i < up; i += L) ld(x, xb + xs * i).lanewise(VectorOperators.MAX, zero).intoMemorySegment(o, ob + 4L * i, NO);
                for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, Math.max(x.get(JAVA_FLOAT, xb + xs * i), 0f));
            }
            case SQUARE -> {
                for (; i < up; i += L) { FloatVector v = ld(x, xb + xs * i); v.mul(v).intoMemorySegment(o, ob + 4L * i, NO); }
                for (; i < n; i++) { float v = x.get(JAVA_FLOAT, xb + xs * i); o.set(JAVA_FLOAT, ob + 4L * i, v * v); }
            }
            case RECIPROCAL -> {
                FloatVector one = FloatVector.broadcast(S, 1f);
                for (; i < up; i += L) one.div(ld(x, xb + xs * i)).intoMemorySegment(o, ob + 4L * i, NO);
                for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, 1f / x.get(JAVA_FLOAT, xb + xs * i));
            }
            case TANH -> tanh(x, xb, xs, o, ob, n);
            case EXP -> exp(x, xb, xs, o, ob, n);
            case SIGMOID -> sigmoid(x, xb, xs, o, ob, n);
            default -> throw new IllegalArgumentException("no vector loop for " + op);
        }
    }

    // TANH and EXP compute in double and round once, as the scalar ops: the vector math library's float tanh/exp are
    // faster but their bits differ from the interpreter's fallback (Math.tanh per lane), so a step's result would
    // depend on whether C2 had compiled the loop yet (a resumed run would not match an uninterrupted one). Each loop
    // is its own small method so that C2 compiles it with the vector calls inlined.

    /** Sigmoid in double, rounded once. */
    private static void sigmoid(MemorySegment x, long xb, long xs, MemorySegment o, long ob, int n) {
        int i = 0;
        int upD = FH.loopBound(n);
        DoubleVector one = DoubleVector.broadcast(D, 1.0);
        for (; i < upD; i += FH.length()) one.div(widen(x, xb + xs * i).neg().lanewise(VectorOperators.EXP).add(1.0))
                .convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, (float) (1 / (1 + Math.exp(-(double) x.get(JAVA_FLOAT, xb + xs * i)))));
    }

    private static void tanh(MemorySegment x, long xb, long xs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int upD = FH.loopBound(n); i < upD; i += FH.length()) widen(x, xb + xs * i).lanewise(VectorOperators.TANH)
                .convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, (float) Math.tanh(x.get(JAVA_FLOAT, xb + xs * i)));
    }

    private static void exp(MemorySegment x, long xb, long xs, MemorySegment o, long ob, int n) {
        int i = 0;
        for (int upD = FH.loopBound(n); i < upD; i += FH.length()) widen(x, xb + xs * i).lanewise(VectorOperators.EXP)
                .convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(o, ob + 4L * i, NO);
        for (; i < n; i++) o.set(JAVA_FLOAT, ob + 4L * i, (float) Math.exp(x.get(JAVA_FLOAT, xb + xs * i)));
    }

    /**
     * Sum of {@code n} contiguous floats at byte {@code base}, accumulated in double. The order is
     * fixed for a given vector width: each float vector is widened to two double vectors feeding four
     * double accumulators, the accumulators are added ((a0 + a1) + (a2 + a3)), their lanes summed in
     * lane order, then the tail in order. Accumulating in double costs nothing here (the loop is bound
     * by memory bandwidth) and makes the result essentially exact before the final rounding.
     */
    public static double sum(MemorySegment x, long base, int n) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (int up = n - n % (2 * L); i < up; i += 2 * L) {
            FloatVector v = ld(x, base + 4L * i), w = ld(x, base + 4L * i + 4L * L);
            a0 = a0.add((DoubleVector) v.convertShape(VectorOperators.F2D, D, 0));
            a1 = a1.add((DoubleVector) v.convertShape(VectorOperators.F2D, D, 1));
            a2 = a2.add((DoubleVector) w.convertShape(VectorOperators.F2D, D, 0));
            a3 = a3.add((DoubleVector) w.convertShape(VectorOperators.F2D, D, 1));
        }
        double s = 0;
        for (double lane : a0.add(a1).add(a2.add(a3)).toArray()) s += lane;
        for (; i < n; i++) s += x.get(JAVA_FLOAT, base + 4L * i);
        return s;
    }

    /** Column sums: {@code acc[i] += x[j][i]} for {@code rows} rows of {@code n} floats, {@code rowBytes} apart. */
    public static void sumRows(MemorySegment x, long base, long rowBytes, int rows, float[] acc, int n) {
        int up = S.loopBound(n);
        for (int i = 0; i < up; i += L) {
            FloatVector a = FloatVector.fromArray(S, acc, i);
            long at = base + 4L * i;
            for (int j = 0; j < rows; j++) a = a.add(ld(x, at + j * rowBytes));
            a.intoArray(acc, i);
        }
        for (int i = up; i < n; i++) {
            float a = acc[i];
            for (int j = 0; j < rows; j++) a += x.get(JAVA_FLOAT, base + 4L * i + j * rowBytes);
            acc[i] = a;
        }
    }
}
