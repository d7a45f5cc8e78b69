package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 LSTM backward time loop of one group of batch rows, each step's product {@code dPre_{t+1} W_hh} fused
 * with step t's cell gradient: a tile of {@link #RB} rows by {@link #NB} vectors of hidden columns (16 accumulators)
 * runs the product over the 4H gate columns, and the gradients of exactly those hidden columns (in all four gates)
 * follow at once. Operation for operation the step-by-step path's arithmetic (the product a chain of fused
 * multiply-adds from zero over k in increasing order; then {@code dh = dhOut + dhNext} and {@link RecurrentCells}'s
 * cell gradient), so the bits are unchanged. Each step works on heap copies of its rows (one bulk copy per row and
 * operand, see {@link LstmForwardF32}); {@code dPre} of the step stays on the heap for the next step's product and is
 * copied out row by row. Needs {@code hidden} to be a multiple of the vector length.
 */
public final class LstmBackwardF32 {
    private LstmBackwardF32() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows per tile. */
    public static final int RB = 8;
    /** Column vectors per wide tile (a panel of 4H x NB vectors, reused by every row tile of the group); leftover column blocks take one-vector tiles. */
    private static final int NB = 2;
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

    /**
     * Packs {@code W_hh} ({@code [4H, H]}, element offset and strides) for {@link #run}: column panels of {@link #NB}
     * vectors (the last ones one vector wide), each k-major ({@code 4H} rows of the panel's columns, contiguous), so
     * that a tile streams its panel in order.
     */
    public static float[] pack(MemorySegment w, long off, long rs, long cs, int hidden) {
        int k = 4 * hidden, blocks = hidden / L, wide = blocks / NB * NB;
        float[] src = DenseF32.rowMajor(w, off, rs, cs, k, hidden);
        float[] dst = new float[k * hidden];
        for (int jb = 0; jb < blocks; ) {
            int nb = jb < wide ? NB : 1, cols = nb * L, base = jb * L * k;
            for (int p = 0; p < k; p++) System.arraycopy(src, p * hidden + jb * L, dst, base + p * cols, cols);
            jb += nb;
        }
        return dst;
    }

    /**
     * Runs the reverse time loop for {@code m} rows: {@code gates} {@code [.., T, 4H]}, {@code out} {@code [.., T, 2H]}
     * (h then c), {@code c0} the initial cell state, {@code gOut} the gradient of {@code out}, {@code dPre} the
     * gradient of the pre-activations (written), {@code dc} the cell-state gradient (written: that of {@code c0} at
     * the end), {@code dh0} the gradient of {@code h0} (written; null when not wanted). {@code time} must be positive.
     */
    public static void run(int m, int hidden, int time, float[] w, StepRows gates, StepRows out, StepRows c0, StepRows gOut,
                           StepRows dPre, StepRows dc, StepRows dh0) {
        int g4 = 4 * hidden, h2 = 2 * hidden, blocks = hidden / L, wide = blocks / NB * NB;
        float[] dCur = LoopScratch.get(0, m * g4), dNext = LoopScratch.get(1, m * g4);
        float[] gB = LoopScratch.get(2, m * g4), oB = LoopScratch.get(3, m * h2), cpB = LoopScratch.get(4, m * hidden);
        float[] goB = LoopScratch.get(5, m * h2), dcB = LoopScratch.get(6, m * hidden);
        float[] acc = LoopScratch.get(7, RB * NB * L), dct = LoopScratch.get(8, L);
        java.util.Arrays.fill(dcB, 0, m * hidden, 0f); // the cell-state gradient starts at zero
        for (int s = time - 1; s >= 0; s--) {
            boolean last = s == time - 1;
            for (int r = 0; r < m; r++) {
                gates.read(r, s, 0, g4, gB, r * g4);
                out.read(r, s, 0, h2, oB, r * h2);
                gOut.read(r, s, 0, h2, goB, r * h2);
                if (s == 0) c0.read(r, 0, 0, hidden, cpB, r * hidden);
                else out.read(r, s - 1, hidden, hidden, cpB, r * hidden);
            }
            for (int jb = 0; jb < blocks; ) {
                int nb = jb < wide ? NB : 1;
                for (int r0 = 0; r0 < m; r0 += RB) {
                    int rows = Math.min(RB, m - r0);
                    if (!last) product(nb, dCur, r0, rows, g4, w, jb * L * g4, acc);
                    for (int i = 0; i < rows; i++)
                        for (int b = 0; b < nb; b++) {
                            int r = r0 + i, j = (jb + b) * L;
                            cellGradient(last ? -1 : (i * NB + b) * L, acc, gB, oB, goB, dcB, dNext, dct, r, j, hidden);
                            gateGradients(dct, gB, cpB, dcB, dNext, r, j, hidden);
                        }
                }
                jb += nb;
            }
            for (int r = 0; r < m; r++) dPre.write(r, s, 0, g4, dNext, r * g4);
            float[] t = dCur;
            dCur = dNext;
            dNext = t;
        }
        for (int r = 0; r < m; r++) dc.write(r, 0, 0, hidden, dcB, r * hidden);
        if (dh0 == null) return;
        float[] dhB = cpB;
        for (int jb = 0; jb < blocks; ) {
            int nb = jb < wide ? NB : 1;
            for (int r0 = 0; r0 < m; r0 += RB) {
                int rows = Math.min(RB, m - r0);
                product(nb, dCur, r0, rows, g4, w, jb * L * g4, acc);
                for (int i = 0; i < rows; i++)
                    for (int b = 0; b < nb; b++) System.arraycopy(acc, (i * NB + b) * L, dhB, (r0 + i) * hidden + (jb + b) * L, L);
            }
            jb += nb;
        }
        for (int r = 0; r < m; r++) dh0.write(r, 0, 0, hidden, dhB, r * hidden);
    }

    /** The product tile for rows {@code r0..r0+rows} of {@code d} ({@code k} columns each) and the panel at {@code wb}, {@code nb} vectors wide. */
    private static void product(int nb, float[] d, int r0, int rows, int k, float[] w, int wb, float[] acc) {
        int last = r0 + rows - 1;
        int a0 = r0 * k, a1 = Math.min(r0 + 1, last) * k, a2 = Math.min(r0 + 2, last) * k, a3 = Math.min(r0 + 3, last) * k;
        int a4 = Math.min(r0 + 4, last) * k, a5 = Math.min(r0 + 5, last) * k, a6 = Math.min(r0 + 6, last) * k, a7 = Math.min(r0 + 7, last) * k;
        if (nb == NB) wide(k, w, wb, d, a0, a1, a2, a3, a4, a5, a6, a7, acc);
        else narrow(k, w, wb, d, a0, a1, a2, a3, a4, a5, a6, a7, acc);
    }

    /** {@code acc[(i*NB + b)*L + lane] = sum_p a_i[p] * panel[p, b*L + lane]} for eight rows and two column vectors. */
    private static void wide(int k, float[] w, int wb, float[] a, int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7,
                             float[] acc) {
        FloatVector r00 = FloatVector.zero(S), r01 = r00, r10 = r00, r11 = r00, r20 = r00, r21 = r00, r30 = r00, r31 = r00;
        FloatVector r40 = r00, r41 = r00, r50 = r00, r51 = r00, r60 = r00, r61 = r00, r70 = r00, r71 = r00;
        for (int p = 0; p < k; p++) {
            int bp = wb + p * 2 * L;
            FloatVector b0 = FloatVector.fromArray(S, w, bp), b1 = FloatVector.fromArray(S, w, bp + L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + p]);
            r00 = x.fma(b0, r00); r01 = x.fma(b1, r01);
            x = FloatVector.broadcast(S, a[a1 + p]);
            r10 = x.fma(b0, r10); r11 = x.fma(b1, r11);
            x = FloatVector.broadcast(S, a[a2 + p]);
            r20 = x.fma(b0, r20); r21 = x.fma(b1, r21);
            x = FloatVector.broadcast(S, a[a3 + p]);
            r30 = x.fma(b0, r30); r31 = x.fma(b1, r31);
            x = FloatVector.broadcast(S, a[a4 + p]);
            r40 = x.fma(b0, r40); r41 = x.fma(b1, r41);
            x = FloatVector.broadcast(S, a[a5 + p]);
            r50 = x.fma(b0, r50); r51 = x.fma(b1, r51);
            x = FloatVector.broadcast(S, a[a6 + p]);
            r60 = x.fma(b0, r60); r61 = x.fma(b1, r61);
            x = FloatVector.broadcast(S, a[a7 + p]);
            r70 = x.fma(b0, r70); r71 = x.fma(b1, r71);
        }
        r00.intoArray(acc, 0); r01.intoArray(acc, L);
        r10.intoArray(acc, 2 * L); r11.intoArray(acc, 3 * L);
        r20.intoArray(acc, 4 * L); r21.intoArray(acc, 5 * L);
        r30.intoArray(acc, 6 * L); r31.intoArray(acc, 7 * L);
        r40.intoArray(acc, 8 * L); r41.intoArray(acc, 9 * L);
        r50.intoArray(acc, 10 * L); r51.intoArray(acc, 11 * L);
        r60.intoArray(acc, 12 * L); r61.intoArray(acc, 13 * L);
        r70.intoArray(acc, 14 * L); r71.intoArray(acc, 15 * L);
    }

    /** One column vector of {@link #wide}. */
    private static void narrow(int k, float[] w, int wb, float[] a, int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7,
                               float[] acc) {
        FloatVector r0 = FloatVector.zero(S), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0, r7 = r0;
        for (int p = 0; p < k; p++) {
            FloatVector b = FloatVector.fromArray(S, w, wb + p * L);
            r0 = FloatVector.broadcast(S, a[a0 + p]).fma(b, r0);
            r1 = FloatVector.broadcast(S, a[a1 + p]).fma(b, r1);
            r2 = FloatVector.broadcast(S, a[a2 + p]).fma(b, r2);
            r3 = FloatVector.broadcast(S, a[a3 + p]).fma(b, r3);
            r4 = FloatVector.broadcast(S, a[a4 + p]).fma(b, r4);
            r5 = FloatVector.broadcast(S, a[a5 + p]).fma(b, r5);
            r6 = FloatVector.broadcast(S, a[a6 + p]).fma(b, r6);
            r7 = FloatVector.broadcast(S, a[a7 + p]).fma(b, r7);
        }
        int st = NB * L;
        r0.intoArray(acc, 0);
        r1.intoArray(acc, st);
        r2.intoArray(acc, 2 * st);
        r3.intoArray(acc, 3 * st);
        r4.intoArray(acc, 4 * st);
        r5.intoArray(acc, 5 * st);
        r6.intoArray(acc, 6 * st);
        r7.intoArray(acc, 7 * st);
    }

    /**
     * {@code dh = dhOut (+ dhNext from acc at ai, unless ai < 0)}; {@code dcT = dcOut + dc + dh o (1 - tanh(c)^2)} into
     * {@code dct}; the o block of dPre, {@code dh tanh(c) o (1 - o)}. Rows: gates {@code g} (4H), out {@code o} and
     * gOut {@code go} (2H: h then c), dc (H), dPre (4H).
     */
    private static void cellGradient(int ai, float[] acc, float[] g, float[] o, float[] go, float[] dc, float[] dPre, float[] dct,
                                     int r, int j, int hidden) {
        int g4 = 4 * hidden, h2 = 2 * hidden;
        FloatVector og = FloatVector.fromArray(S, g, r * g4 + 3 * hidden + j);
        FloatVector tc = VecMath.tanh(FloatVector.fromArray(S, o, r * h2 + hidden + j));
        FloatVector dh = FloatVector.fromArray(S, go, r * h2 + j);
        if (ai >= 0) dh = dh.add(FloatVector.fromArray(S, acc, ai));
        FloatVector.fromArray(S, go, r * h2 + hidden + j).add(FloatVector.fromArray(S, dc, r * hidden + j))
                .add(dh.mul(og).mul(ONE.sub(tc.mul(tc)))).intoArray(dct, 0);
        dh.mul(tc).mul(og).mul(ONE.sub(og)).intoArray(dPre, r * g4 + 3 * hidden + j);
    }

    /** The i, f and g blocks of dPre from {@code dcT}, then {@code dc := dcT * f}; {@code cp} holds the rows of c_{t-1}. */
    private static void gateGradients(float[] dctBuf, float[] g4s, float[] cp, float[] dc, float[] dPre, int r, int j, int hidden) {
        int at = r * 4 * hidden + j;
        FloatVector i = FloatVector.fromArray(S, g4s, at), f = FloatVector.fromArray(S, g4s, at + hidden);
        FloatVector g = FloatVector.fromArray(S, g4s, at + 2 * hidden);
        FloatVector dct = FloatVector.fromArray(S, dctBuf, 0);
        dct.mul(g).mul(i).mul(ONE.sub(i)).intoArray(dPre, at);
        dct.mul(FloatVector.fromArray(S, cp, r * hidden + j)).mul(f).mul(ONE.sub(f)).intoArray(dPre, at + hidden);
        dct.mul(i).mul(ONE.sub(g.mul(g))).intoArray(dPre, at + 2 * hidden);
        dct.mul(f).intoArray(dc, r * hidden + j);
    }
}
