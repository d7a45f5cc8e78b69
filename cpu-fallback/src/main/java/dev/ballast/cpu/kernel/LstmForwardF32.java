package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 LSTM time loop of one group of batch rows with each step's product {@code h_{t-1} W_hh^T} and the cell
 * fused: a tile of {@link #RB} rows by one vector of hidden columns in all four gates (16 accumulators) runs the
 * product over k, and the cell math for exactly those columns follows while the tile is in L1, instead of a product
 * pass into a work buffer and then a cell pass over it. The arithmetic is the step-by-step path's operation for
 * operation (every product element one chain of fused multiply-adds from zero over k in increasing order, then
 * {@code (xw + hw) + b}, the same {@link VecMath} activations and state updates as {@link RecurrentCells}), so the
 * bits are unchanged. Needs {@code hidden} to be a multiple of the vector length ({@link #serves}).
 *
 * <p>Each step works on heap copies of its rows (the step's input projection in, gates and states out, one bulk
 * copy per row; the states of the step before stay on the heap), not on native memory vector by vector, whose
 * bounds and liveness checks cost more than the arithmetic. Vector values never cross a method boundary that C2
 * might not inline: the accumulators go through a small scratch array, and each epilogue piece is a small method.
 */
public final class LstmForwardF32 {
    private LstmForwardF32() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows per tile ({@link Tile4x4F32}'s: 4 rows by the four gates' vectors). */
    public static final int RB = 4;

    /** Whether the fused loop serves this hidden size (else the caller takes the product-then-cell path). */
    public static boolean serves(int hidden) { return hidden % L == 0; }

    /**
     * Packs {@code W_hh} ({@code [4H, H]}, element offset and strides) for {@link #run}: per column block {@code jb}
     * of L hidden units, per k step {@code p}, the four gates' L values {@code W[q*H + jb*L + lane, p]}.
     * The result is the calling thread's {@link LoopScratch} array for packed weights: valid until this thread packs
     * again (every thread of the call may read it meanwhile), so that a step neither allocates nor first-touches it.
     */
    public static float[] pack(MemorySegment w, long off, long rs, long cs, int hidden) {
        float[] src = DenseF32.rowMajor(w, off, rs, cs, 4 * hidden, hidden);
        float[] dst = LoopScratch.get(LoopScratch.PACKED, 4 * hidden * hidden);
        int d = 0;
        for (int jb = 0; jb < hidden / L; jb++)
            for (int p = 0; p < hidden; p++)
                for (int q = 0; q < 4; q++)
                    for (int lane = 0, row = q * hidden + jb * L; lane < L; lane++, row++) dst[d++] = src[row * hidden + p];
        return dst;
    }

    /**
     * Runs the time loop for {@code m} rows: {@code xw, gates} {@code [.., T, 4H]}, {@code out} {@code [.., T, 2H]}
     * (h then c), {@code h0, c0} states, {@code bias} a 1-D row or null.
     */
    public static void run(int m, int hidden, int time, float[] packed, StepRows xw, StepRows bias, StepRows h0, StepRows c0,
                           StepRows gates, StepRows out) {
        int g4 = 4 * hidden, h2 = 2 * hidden, blocks = hidden / L;
        float[] hCur = LoopScratch.get(0, m * hidden), hNext = LoopScratch.get(1, m * hidden);
        float[] cCur = LoopScratch.get(2, m * hidden), cNext = LoopScratch.get(3, m * hidden);
        float[] xwB = LoopScratch.get(4, m * g4), gB = LoopScratch.get(5, m * g4), oB = LoopScratch.get(6, m * h2);
        float[] bB = bias == null ? null : LoopScratch.get(7, g4);
        float[] acc = LoopScratch.get(8, Tile4x4F32.TILE);
        if (bias != null) bias.read(0, 0, 0, g4, bB, 0);
        for (int r = 0; r < m; r++) {
            h0.read(r, 0, 0, hidden, hCur, r * hidden);
            c0.read(r, 0, 0, hidden, cCur, r * hidden);
        }
        for (int s = 0; s < time; s++) {
            for (int r = 0; r < m; r++) xw.read(r, s, 0, g4, xwB, r * g4);
            for (int jb = 0; jb < blocks; jb++) {
                int wb = jb * hidden * 4 * L, j = jb * L;
                for (int r0 = 0; r0 < m; r0 += RB) {
                    int rows = Math.min(RB, m - r0);
                    int a0 = r0 * hidden, a1 = (r0 + Math.min(1, rows - 1)) * hidden;
                    int a2 = (r0 + Math.min(2, rows - 1)) * hidden, a3 = (r0 + Math.min(3, rows - 1)) * hidden;
                    Arrays.fill(acc, 0, Tile4x4F32.TILE, 0f); // each chain starts from zero, as the plain product's
                    Tile4x4F32.accumulate(0, hidden, packed, wb, hCur, a0, a1, a2, a3, acc, 0);
                    for (int i = 0; i < rows; i++) {
                        int r = r0 + i, base = i * 4 * L, gi = r * g4 + j;
                        sigmoidGate(acc, base, xwB, bB, j, gB, gi);
                        sigmoidGate(acc, base + L, xwB, bB, j + hidden, gB, gi + hidden);
                        tanhGate(acc, base + 2 * L, xwB, bB, j + 2 * hidden, gB, gi + 2 * hidden);
                        sigmoidGate(acc, base + 3 * L, xwB, bB, j + 3 * hidden, gB, gi + 3 * hidden);
                        states(gB, gi, hidden, cCur, cNext, r * hidden + j, oB, r * h2 + j, hNext);
                    }
                }
            }
            for (int r = 0; r < m; r++) {
                gates.write(r, s, 0, g4, gB, r * g4);
                out.write(r, s, 0, h2, oB, r * h2);
            }
            float[] t = hCur;
            hCur = hNext;
            hNext = t;
            t = cCur;
            cCur = cNext;
            cNext = t;
        }
    }

    /**
     * One gate's activation {@code sigmoid((xw + hw) + b)} from the product's {@code hw} in acc, into the gates row at
     * {@code at} ({@code xw} and the gates row share the index; the bias, if any, is read at {@code bj}).
     */
    private static void sigmoidGate(float[] acc, int ai, float[] xw, float[] bias, int bj, float[] g, int at) {
        VecMath.sigmoid(preActivation(acc, ai, xw, bias, bj, at)).intoArray(g, at);
    }

    /** {@link #sigmoidGate} with tanh (the cell candidate g). */
    private static void tanhGate(float[] acc, int ai, float[] xw, float[] bias, int bj, float[] g, int at) {
        VecMath.tanh(preActivation(acc, ai, xw, bias, bj, at)).intoArray(g, at);
    }

    /** {@code (xw + hw) + b}; small enough that C2 always inlines it into the two gate methods. */
    private static FloatVector preActivation(float[] acc, int ai, float[] xw, float[] bias, int bj, int at) {
        FloatVector p = FloatVector.fromArray(S, xw, at).add(FloatVector.fromArray(S, acc, ai));
        return bias == null ? p : p.add(FloatVector.fromArray(S, bias, bj));
    }

    /**
     * {@code c = f * cPrev + i * g} and {@code h = o * tanh(c)} from the activated gates row at {@code gi} into the
     * next states and the output row ({@code h} at {@code oi}, {@code c} H further).
     */
    private static void states(float[] g4, int gi, int hidden, float[] cPrev, float[] cNext, int ci, float[] o, int oi, float[] hNext) {
        FloatVector i = FloatVector.fromArray(S, g4, gi), f = FloatVector.fromArray(S, g4, gi + hidden);
        FloatVector g = FloatVector.fromArray(S, g4, gi + 2 * hidden), og = FloatVector.fromArray(S, g4, gi + 3 * hidden);
        FloatVector c = f.mul(FloatVector.fromArray(S, cPrev, ci)).add(i.mul(g));
        c.intoArray(cNext, ci);
        c.intoArray(o, oi + hidden);
        FloatVector h = og.mul(VecMath.tanh(c));
        h.intoArray(o, oi);
        h.intoArray(hNext, ci);
    }
}
