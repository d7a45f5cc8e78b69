package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU's fused recurrent cells ({@link dev.ballast.engine.backend.FusedCells}): each row of the batch is one pass
 * over its gate blocks, F32 with Vector API loops whose exp, sigmoid and tanh are {@link VecMath}'s (float lanes, as
 * PyTorch's vectorized CPU kernels; the same bits interpreted or compiled, and in the scalar tail; they may differ
 * from the double-rounded elementwise ops by an ulp or two), F64 in scalar double. Rows are
 * split over the pool in tasks of at least {@link #GRAIN} elements.
 */
public final class RecurrentCells {
    private RecurrentCells() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);
    /** Elements of work per task. */
    static final int GRAIN = 16384;

    /** A {@code [B, n]} operand: segment, element offset and row stride; {@code f64} selects the element type. */
    public record Rows(MemorySegment seg, long offset, long rowStride, boolean f64) {
        long at(long row, long col) { return offset + row * rowStride + col; }

        float f(long row, long col) { return seg.getAtIndex(JAVA_FLOAT, at(row, col)); }

        void f(long row, long col, float v) { seg.setAtIndex(JAVA_FLOAT, at(row, col), v); }

        double d(long row, long col) { return seg.getAtIndex(JAVA_DOUBLE, at(row, col)); }

        void d(long row, long col, double v) { seg.setAtIndex(JAVA_DOUBLE, at(row, col), v); }

        FloatVector v(long row, long col) { return FloatVector.fromMemorySegment(S, seg, 4 * at(row, col), NO); }

        void v(long row, long col, FloatVector x) { x.intoMemorySegment(seg, 4 * at(row, col), NO); }
    }

    private static void rows(Parallel par, int batch, long perRow, java.util.function.LongConsumer row) {
        long rowsPerTask = Math.max(1, GRAIN / Math.max(1, perRow));
        par.forEachUnit(batch, rowsPerTask, row);
    }

    private static FloatVector sigmoid(FloatVector x) { return VecMath.sigmoid(x); }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    private static float sigmoid(float x) { return VecMath.sigmoid(x); }

    /** See {@link dev.ballast.engine.backend.FusedCells#lstmCellForward}; {@code bias} may be null. */
    public static void lstmForward(Parallel par, int batch, int hidden, Rows xw, Rows hw, Rows bias, Rows cPrev, Rows gates,
                                   Rows h, Rows c) {
        rows(par, batch, 4L * hidden, b -> {
            if (xw.f64()) {
                lstmForwardF64(b, hidden, xw, hw, bias, cPrev, gates, h, c);
            } else {
                int j = lstmForwardVector(b, hidden, xw, hw, bias, cPrev, gates, h, c);
                lstmForwardTail(b, j, hidden, xw, hw, bias, cPrev, gates, h, c);
            }
        });
    }

    // The row kernels are separate small methods, not one lambda: in a large compilation unit C2 stops inlining
    // (NodeCountInliningCutoff) and the Vector API calls it leaves out run boxed, many times slower.

    /**
     * The whole-vector columns of row {@code b}; returns the first column left for the scalar tail. Three passes over
     * the row (pre-activations into {@code gates}, the activations in place, the new states): one loop doing all of it
     * is too large for C2, which then leaves the vector math calls out of line and runs them boxed.
     */
    private static int lstmForwardVector(long b, int hh, Rows xw, Rows hw, Rows bias, Rows cPrev, Rows gates, Rows h, Rows c) {
        int up = S.loopBound(hh);
        for (int k = 0; k < 4; k++) preActivation(b, k * hh, up, xw, hw, bias, gates);
        sigmoidInPlace(gates, b, 0, up);
        sigmoidInPlace(gates, b, hh, up);
        tanhInPlace(gates, b, 2 * hh, up);
        sigmoidInPlace(gates, b, 3 * hh, up);
        cellStates(b, hh, up, cPrev, gates, c);
        hiddenStates(b, hh, up, gates, c, h);
        return up;
    }

    /** {@code gates[b, from + j] = xw + hw (+ bias)} for j < n (a multiple of L). */
    private static void preActivation(long b, int from, int n, Rows xw, Rows hw, Rows bias, Rows gates) {
        for (int j = from, end = from + n; j < end; j += L) {
            FloatVector p = xw.v(b, j).add(hw.v(b, j));
            if (bias != null) p = p.add(bias.v(0, j));
            gates.v(b, j, p);
        }
    }

    private static void sigmoidInPlace(Rows r, long b, int from, int n) {
        for (int j = from, end = from + n; j < end; j += L) r.v(b, j, sigmoid(r.v(b, j)));
    }

    private static void tanhInPlace(Rows r, long b, int from, int n) {
        for (int j = from, end = from + n; j < end; j += L) r.v(b, j, VecMath.tanh(r.v(b, j)));
    }

    /** {@code c = f * cPrev + i * g} from the activations in {@code gates}. */
    private static void cellStates(long b, int hh, int n, Rows cPrev, Rows gates, Rows c) {
        for (int j = 0; j < n; j += L) c.v(b, j, gates.v(b, hh + j).mul(cPrev.v(b, j)).add(gates.v(b, j).mul(gates.v(b, 2 * hh + j))));
    }

    /** {@code h = o * tanh(c)}: a loop of its own, so that C2 keeps the inlined tanh within its node budget. */
    private static void hiddenStates(long b, int hh, int n, Rows gates, Rows c, Rows h) {
        for (int j = 0; j < n; j += L) h.v(b, j, gates.v(b, 3 * hh + j).mul(VecMath.tanh(c.v(b, j))));
    }

    private static void lstmForwardTail(long b, int j, int hh, Rows xw, Rows hw, Rows bias, Rows cPrev, Rows gates, Rows h, Rows c) {
        for (; j < hh; j++) {
            float pi = xw.f(b, j) + hw.f(b, j), pf = xw.f(b, hh + j) + hw.f(b, hh + j);
            float pg = xw.f(b, 2 * hh + j) + hw.f(b, 2 * hh + j), po = xw.f(b, 3 * hh + j) + hw.f(b, 3 * hh + j);
            if (bias != null) {
                pi += bias.f(0, j);
                pf += bias.f(0, hh + j);
                pg += bias.f(0, 2 * hh + j);
                po += bias.f(0, 3 * hh + j);
            }
            float i = sigmoid(pi), f = sigmoid(pf), g = VecMath.tanh(pg), o = sigmoid(po);
            float cn = f * cPrev.f(b, j) + i * g;
            gates.f(b, j, i);
            gates.f(b, hh + j, f);
            gates.f(b, 2 * hh + j, g);
            gates.f(b, 3 * hh + j, o);
            c.f(b, j, cn);
            h.f(b, j, o * VecMath.tanh(cn));
        }
    }

    private static void lstmForwardF64(long b, int hh, Rows xw, Rows hw, Rows bias, Rows cPrev, Rows gates, Rows h, Rows c) {
        for (int j = 0; j < hh; j++) {
            double[] p = new double[4];
            for (int k = 0; k < 4; k++) p[k] = xw.d(b, k * hh + j) + hw.d(b, k * hh + j) + (bias == null ? 0 : bias.d(0, k * hh + j));
            double i = sigmoid(p[0]), f = sigmoid(p[1]), g = Math.tanh(p[2]), o = sigmoid(p[3]);
            double cn = f * cPrev.d(b, j) + i * g;
            gates.d(b, j, i);
            gates.d(b, hh + j, f);
            gates.d(b, 2 * hh + j, g);
            gates.d(b, 3 * hh + j, o);
            c.d(b, j, cn);
            h.d(b, j, o * Math.tanh(cn));
        }
    }

    /** See {@link dev.ballast.engine.backend.FusedCells#lstmCellBackward}; {@code dhNext} may be null. */
    public static void lstmBackward(Parallel par, int batch, int hidden, Rows gates, Rows cPrev, Rows c, Rows dhOut, Rows dhNext,
                                    Rows dcOut, Rows dc, Rows dPre) {
        rows(par, batch, 4L * hidden, b -> {
            if (gates.f64()) {
                lstmBackwardF64(b, hidden, gates, cPrev, c, dhOut, dhNext, dcOut, dc, dPre);
            } else {
                int j = lstmBackwardVector(b, hidden, gates, cPrev, c, dhOut, dhNext, dcOut, dc, dPre);
                lstmBackwardTail(b, j, hidden, gates, cPrev, c, dhOut, dhNext, dcOut, dc, dPre);
            }
        });
    }

    /** Whole-vector columns in two passes (see {@link #lstmForwardVector}); returns the first column of the tail. */
    private static int lstmBackwardVector(long b, int hh, Rows gates, Rows cPrev, Rows c, Rows dhOut, Rows dhNext, Rows dcOut,
                                          Rows dc, Rows dPre) {
        int up = S.loopBound(hh);
        tanhInto(c, b, up, dPre, 3 * hh);
        cellGradient(b, hh, up, gates, dhOut, dhNext, dcOut, dc, dPre);
        gateGradients(b, hh, up, gates, cPrev, dc, dPre);
        return up;
    }

    /** {@code out[b, at + j] = tanh(x[b, j])} for j < n. */
    private static void tanhInto(Rows x, long b, int n, Rows out, int at) {
        for (int j = 0; j < n; j += L) out.v(b, at + j, VecMath.tanh(x.v(b, j)));
    }

    /**
     * {@code dc := dcT = dcOut + dc + dh o (1 - tanh(c)^2)} and the o block of dPre, {@code dh tanh(c) o (1 - o)}, with
     * {@code tanh(c)} read from that o block (written there by {@link #tanhInto}).
     */
    private static void cellGradient(long b, int hh, int n, Rows gates, Rows dhOut, Rows dhNext, Rows dcOut, Rows dc, Rows dPre) {
        for (int j = 0; j < n; j += L) {
            FloatVector o = gates.v(b, 3 * hh + j);
            FloatVector tc = dPre.v(b, 3 * hh + j);
            FloatVector dh = dhOut.v(b, j);
            if (dhNext != null) dh = dh.add(dhNext.v(b, j));
            dc.v(b, j, dcOut.v(b, j).add(dc.v(b, j)).add(dh.mul(o).mul(ONE.sub(tc.mul(tc)))));
            dPre.v(b, 3 * hh + j, dh.mul(tc).mul(o).mul(ONE.sub(o)));
        }
    }

    /** The i, f and g blocks of dPre from {@code dcT} (held in dc), then {@code dc := dcT * f}. */
    private static void gateGradients(long b, int hh, int n, Rows gates, Rows cPrev, Rows dc, Rows dPre) {
        for (int j = 0; j < n; j += L) {
            FloatVector i = gates.v(b, j), f = gates.v(b, hh + j), g = gates.v(b, 2 * hh + j);
            FloatVector dct = dc.v(b, j);
            dPre.v(b, j, dct.mul(g).mul(i).mul(ONE.sub(i)));
            dPre.v(b, hh + j, dct.mul(cPrev.v(b, j)).mul(f).mul(ONE.sub(f)));
            dPre.v(b, 2 * hh + j, dct.mul(i).mul(ONE.sub(g.mul(g))));
            dc.v(b, j, dct.mul(f));
        }
    }

    private static void lstmBackwardTail(long b, int j, int hh, Rows gates, Rows cPrev, Rows c, Rows dhOut, Rows dhNext, Rows dcOut,
                                         Rows dc, Rows dPre) {
        for (; j < hh; j++) {
            float i = gates.f(b, j), f = gates.f(b, hh + j), g = gates.f(b, 2 * hh + j), o = gates.f(b, 3 * hh + j);
            float tc = VecMath.tanh(c.f(b, j));
            float dh = dhOut.f(b, j) + (dhNext == null ? 0f : dhNext.f(b, j));
            float dct = dcOut.f(b, j) + dc.f(b, j) + dh * o * (1f - tc * tc);
            dPre.f(b, j, dct * g * i * (1f - i));
            dPre.f(b, hh + j, dct * cPrev.f(b, j) * f * (1f - f));
            dPre.f(b, 2 * hh + j, dct * i * (1f - g * g));
            dPre.f(b, 3 * hh + j, dh * tc * o * (1f - o));
            dc.f(b, j, dct * f);
        }
    }

    private static void lstmBackwardF64(long b, int hh, Rows gates, Rows cPrev, Rows c, Rows dhOut, Rows dhNext, Rows dcOut,
                                        Rows dc, Rows dPre) {
        for (int j = 0; j < hh; j++) {
            double i = gates.d(b, j), f = gates.d(b, hh + j), g = gates.d(b, 2 * hh + j), o = gates.d(b, 3 * hh + j);
            double tc = Math.tanh(c.d(b, j));
            double dh = dhOut.d(b, j) + (dhNext == null ? 0 : dhNext.d(b, j));
            double dct = dcOut.d(b, j) + dc.d(b, j) + dh * o * (1 - tc * tc);
            dPre.d(b, j, dct * g * i * (1 - i));
            dPre.d(b, hh + j, dct * cPrev.d(b, j) * f * (1 - f));
            dPre.d(b, 2 * hh + j, dct * i * (1 - g * g));
            dPre.d(b, 3 * hh + j, dh * tc * o * (1 - o));
            dc.d(b, j, dct * f);
        }
    }

    /** See {@link dev.ballast.engine.backend.FusedCells#rnnCellForward}. */
    public static void rnnForward(Parallel par, int batch, int hidden, Rows xw, Rows hw, Rows bias, Rows h) {
        rows(par, batch, hidden, b -> {
            int j = 0;
            if (!xw.f64()) {
                j = rnnForwardVector(b, hidden, xw, hw, bias, h);
                for (; j < hidden; j++) h.f(b, j, VecMath.tanh(xw.f(b, j) + hw.f(b, j) + (bias == null ? 0f : bias.f(0, j))));
                return;
            }
            for (; j < hidden; j++) h.d(b, j, Math.tanh(xw.d(b, j) + hw.d(b, j) + (bias == null ? 0 : bias.d(0, j))));
        });
    }

    /** See {@link dev.ballast.engine.backend.FusedCells#rnnCellBackward}. */
    public static void rnnBackward(Parallel par, int batch, int hidden, Rows h, Rows dhOut, Rows dhNext, Rows dPre) {
        rows(par, batch, hidden, b -> {
            int j = 0;
            if (!h.f64()) {
                j = rnnBackwardVector(b, hidden, h, dhOut, dhNext, dPre);
                for (; j < hidden; j++) {
                    float y = h.f(b, j);
                    dPre.f(b, j, (dhOut.f(b, j) + (dhNext == null ? 0f : dhNext.f(b, j))) * (1f - y * y));
                }
                return;
            }
            for (; j < hidden; j++) {
                double y = h.d(b, j);
                dPre.d(b, j, (dhOut.d(b, j) + (dhNext == null ? 0 : dhNext.d(b, j))) * (1 - y * y));
            }
        });
    }

    /** The whole-vector columns of an RNN row, in a method of their own (see {@link #lstmForwardVector}); returns the tail's start. */
    private static int rnnForwardVector(long b, int hidden, Rows xw, Rows hw, Rows bias, Rows h) {
        int up = S.loopBound(hidden);
        for (int j = 0; j < up; j += L) {
            FloatVector p = xw.v(b, j).add(hw.v(b, j));
            if (bias != null) p = p.add(bias.v(0, j));
            h.v(b, j, VecMath.tanh(p));
        }
        return up;
    }

    private static int rnnBackwardVector(long b, int hidden, Rows h, Rows dhOut, Rows dhNext, Rows dPre) {
        int up = S.loopBound(hidden);
        for (int j = 0; j < up; j += L) {
            FloatVector y = h.v(b, j), d = dhOut.v(b, j);
            if (dhNext != null) d = d.add(dhNext.v(b, j));
            dPre.v(b, j, d.mul(y.mul(y).neg().add(1f)));
        }
        return up;
    }
}
