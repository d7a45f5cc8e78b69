package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 LSTM backward time loop of one group of batch rows, each step's product {@code dPre_{t+1} W_hh} fused
 * with step t's cell gradient: per column panel of {@link #NB} vectors of hidden columns, tiles of {@link #RB} rows
 * (16 accumulators) run the product over the 4H gate columns in passes of {@link #KB} (the panel piece shared by all
 * row tiles stays in L1), and the gradients of exactly the panel's hidden columns (in all four gates) follow at once.
 * Operation for operation the step-by-step path's arithmetic (the product a chain of fused multiply-adds from zero
 * over k in increasing order; then {@code dh = dhOut + dhNext} and {@link RecurrentCells}'s cell gradient), so the
 * bits are unchanged. Each step works on heap copies of its rows (one bulk copy per row and operand, see
 * {@link LstmForwardF32}); {@code dPre} of the step stays on the heap for the next step's product and is copied out
 * row by row. Needs {@code hidden} to be a multiple of the vector length.
 */
public final class LstmBackwardF32 {
    private LstmBackwardF32() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows per tile ({@link Tile4x4F32}'s). */
    public static final int RB = 4;
    /** Column vectors per wide tile (a panel of 4H x NB vectors); leftover column blocks take one-vector tiles. */
    private static final int NB = 4;
    /** Accumulators per tile, in floats. */
    private static final int TILE = Tile4x4F32.TILE;
    /**
     * Product rows ({@code k}) per pass over the row tiles: a pass streams {@code KB x NB} vectors of the panel (32 KB)
     * and the tiles' rows of A in that range, which stay in the 48 KB L1 together while every row tile reuses the
     * panel piece; the whole panel ({@code 4H x NB} vectors, 128 KB at H = 128) would come from L2 for every tile.
     * Each tile's partial sums wait in scratch between passes and the next pass continues the same chain of fused
     * multiply-adds, so the blocking changes no bits.
     */
    private static final int KB = 128;
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

    /**
     * Packs {@code W_hh} ({@code [4H, H]}, element offset and strides) for {@link #run}: column panels of {@link #NB}
     * vectors (the last ones one vector wide), each k-major ({@code 4H} rows of the panel's columns, contiguous), so
     * that a tile streams its panel in order.
     * The result is the calling thread's {@link LoopScratch} array for packed weights: valid until this thread packs
     * again (every thread of the call may read it meanwhile), so that a step neither allocates nor first-touches it.
     */
    public static float[] pack(MemorySegment w, long off, long rs, long cs, int hidden) {
        int k = 4 * hidden, blocks = hidden / L, wide = blocks / NB * NB;
        float[] src = DenseF32.rowMajor(w, off, rs, cs, k, hidden);
        float[] dst = LoopScratch.get(LoopScratch.PACKED, k * hidden);
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
     * Of {@code out} only the cell states are read, each once: step s's {@code c_{s-1}} serves step s-1 as its {@code c}.
     */
    public static void run(int m, int hidden, int time, float[] w, StepRows gates, StepRows out, StepRows c0, StepRows gOut,
                           StepRows dPre, StepRows dc, StepRows dh0) {
        int g4 = 4 * hidden, h2 = 2 * hidden, blocks = hidden / L, wide = blocks / NB * NB, tiles = (m + RB - 1) / RB;
        float[] dCur = LoopScratch.get(0, m * g4), dNext = LoopScratch.get(1, m * g4);
        float[] gB = LoopScratch.get(2, m * g4), cB = LoopScratch.get(3, m * hidden), cpB = LoopScratch.get(4, m * hidden);
        float[] goB = LoopScratch.get(5, m * h2), dcB = LoopScratch.get(6, m * hidden);
        float[] acc = LoopScratch.get(7, tiles * TILE);
        java.util.Arrays.fill(dcB, 0, m * hidden, 0f); // the cell-state gradient starts at zero
        for (int r = 0; r < m; r++) out.read(r, time - 1, hidden, hidden, cpB, r * hidden);
        for (int s = time - 1; s >= 0; s--) {
            boolean last = s == time - 1;
            float[] t = cB;
            cB = cpB;
            cpB = t;
            for (int r = 0; r < m; r++) {
                gates.read(r, s, 0, g4, gB, r * g4);
                gOut.read(r, s, 0, h2, goB, r * h2);
                if (s == 0) c0.read(r, 0, 0, hidden, cpB, r * hidden);
                else out.read(r, s - 1, hidden, hidden, cpB, r * hidden);
            }
            for (int jb = 0; jb < blocks; ) {
                int nb = jb < wide ? NB : 1;
                if (!last) products(nb, dCur, m, g4, w, jb * L * g4, acc);
                for (int r = 0; r < m; r++)
                    for (int b = 0; b < nb; b++) {
                        int j = (jb + b) * L;
                        cellGradient(last ? -1 : accAt(r, b), acc, gB, cB, cpB, goB, dcB, dNext, r, j, hidden);
                    }
                jb += nb;
            }
            for (int r = 0; r < m; r++) dPre.write(r, s, 0, g4, dNext, r * g4);
            t = dCur;
            dCur = dNext;
            dNext = t;
        }
        for (int r = 0; r < m; r++) dc.write(r, 0, 0, hidden, dcB, r * hidden);
        if (dh0 == null) return;
        float[] dhB = cpB;
        for (int jb = 0; jb < blocks; ) {
            int nb = jb < wide ? NB : 1;
            products(nb, dCur, m, g4, w, jb * L * g4, acc);
            for (int r = 0; r < m; r++)
                for (int b = 0; b < nb; b++) System.arraycopy(acc, accAt(r, b), dhB, r * hidden + (jb + b) * L, L);
            jb += nb;
        }
        for (int r = 0; r < m; r++) dh0.write(r, 0, 0, hidden, dhB, r * hidden);
    }

    /** Where row {@code r}'s column vector {@code b} of the panel's product sits in the tiles' scratch. */
    private static int accAt(int r, int b) { return r / RB * TILE + (r % RB * NB + b) * L; }

    /**
     * The product of all {@code m} rows of {@code d} ({@code k} columns each) and the panel at {@code wb}, {@code nb}
     * vectors wide, into the tiles' scratch: {@link #KB} rows of the panel at a time for every row tile.
     */
    private static void products(int nb, float[] d, int m, int k, float[] w, int wb, float[] acc) {
        int tiles = (m + RB - 1) / RB;
        java.util.Arrays.fill(acc, 0, tiles * TILE, 0f); // each chain starts from zero, as the plain product's
        for (int k0 = 0; k0 < k; k0 += KB) {
            int k1 = Math.min(k, k0 + KB);
            for (int r0 = 0, at = 0; r0 < m; r0 += RB, at += TILE) {
                int last = Math.min(r0 + RB, m) - 1;
                int a0 = r0 * k, a1 = Math.min(r0 + 1, last) * k, a2 = Math.min(r0 + 2, last) * k, a3 = Math.min(r0 + 3, last) * k;
                if (nb == NB) Tile4x4F32.accumulate(k0, k1, w, wb, d, a0, a1, a2, a3, acc, at);
                else narrow(k0, k1, w, wb, d, a0, a1, a2, a3, acc, at);
            }
        }
    }

    /** One column vector of {@link Tile4x4F32#accumulate} (the panel one vector wide), in the tile's column slot 0. */
    private static void narrow(int k0, int k1, float[] w, int wb, float[] a, int a0, int a1, int a2, int a3, float[] acc, int at) {
        int st = NB * L;
        FloatVector r0 = FloatVector.fromArray(S, acc, at), r1 = FloatVector.fromArray(S, acc, at + st);
        FloatVector r2 = FloatVector.fromArray(S, acc, at + 2 * st), r3 = FloatVector.fromArray(S, acc, at + 3 * st);
        for (int p = k0; p < k1; p++) {
            FloatVector b = FloatVector.fromArray(S, w, wb + p * L);
            r0 = FloatVector.broadcast(S, a[a0 + p]).fma(b, r0);
            r1 = FloatVector.broadcast(S, a[a1 + p]).fma(b, r1);
            r2 = FloatVector.broadcast(S, a[a2 + p]).fma(b, r2);
            r3 = FloatVector.broadcast(S, a[a3 + p]).fma(b, r3);
        }
        r0.intoArray(acc, at);
        r1.intoArray(acc, at + st);
        r2.intoArray(acc, at + 2 * st);
        r3.intoArray(acc, at + 3 * st);
    }

    /**
     * The cell gradient of row {@code r}'s hidden columns {@code j..j+L}: {@code dh = dhOut (+ dhNext from acc at ai,
     * unless ai < 0)}; {@code dcT = dcOut + dc + dh o (1 - tanh(c)^2)}; the o block of dPre {@code dh tanh(c) o (1 - o)},
     * the i, f and g blocks from {@code dcT}, then {@code dc := dcT * f}. Rows: gates {@code g} (4H), cell states
     * {@code c} and {@code cp} (of this step and the one before, H), gOut {@code go} (2H: h then c), dc (H), dPre (4H).
     */
    private static void cellGradient(int ai, float[] acc, float[] g, float[] c, float[] cp, float[] go, float[] dc, float[] dPre,
                                     int r, int j, int hidden) {
        int at = r * 4 * hidden + j, hi = r * hidden + j, h2 = 2 * hidden;
        FloatVector og = FloatVector.fromArray(S, g, at + 3 * hidden);
        FloatVector tc = VecMath.tanh(FloatVector.fromArray(S, c, hi));
        FloatVector dh = FloatVector.fromArray(S, go, r * h2 + j);
        if (ai >= 0) dh = dh.add(FloatVector.fromArray(S, acc, ai));
        FloatVector dct = FloatVector.fromArray(S, go, r * h2 + hidden + j).add(FloatVector.fromArray(S, dc, hi))
                .add(dh.mul(og).mul(ONE.sub(tc.mul(tc))));
        dh.mul(tc).mul(og).mul(ONE.sub(og)).intoArray(dPre, at + 3 * hidden);
        FloatVector i = FloatVector.fromArray(S, g, at), f = FloatVector.fromArray(S, g, at + hidden);
        FloatVector gg = FloatVector.fromArray(S, g, at + 2 * hidden);
        dct.mul(gg).mul(i).mul(ONE.sub(i)).intoArray(dPre, at);
        dct.mul(FloatVector.fromArray(S, cp, hi)).mul(f).mul(ONE.sub(f)).intoArray(dPre, at + hidden);
        dct.mul(i).mul(ONE.sub(gg.mul(gg))).intoArray(dPre, at + 2 * hidden);
        dct.mul(f).intoArray(dc, hi);
    }
}
