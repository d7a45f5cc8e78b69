package dev.ballast.cpu.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register tile both LSTM loops run their per-step products with: 4 rows by 4 vectors of columns (16 accumulators)
 * over a k-major panel of 4 vectors per k. {@link LstmForwardF32}'s panel holds the four gates of one block of hidden
 * units, {@link LstmBackwardF32}'s four blocks of hidden units. The accumulators are read from and written back to a
 * scratch array, so a product can be split into passes over k (each element stays one chain of fused multiply-adds in
 * increasing k, so the bits are those of the plain product) and the starting value is the caller's (zeros for a fresh
 * product: fma from +0 gives the same bits as from a zero register). One method for both loops, with no branch inside:
 * C2 compiles it once, small, and keeps every vector operation intrinsic.
 */
final class Tile4x4F32 {
    private Tile4x4F32() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Accumulator floats per tile. */
    static final int TILE = 16 * L;

    /**
     * {@code acc[at + (i*4 + b)*L + lane] += sum over p in [k0, k1) of a[a_i + p] * w[wb + p*4L + b*L + lane]} for the
     * four rows {@code a0..a3} of {@code a} and four column vectors, continuing each element's chain of fused
     * multiply-adds from the value in {@code acc} (zero it first for a fresh product).
     */
    static void accumulate(int k0, int k1, float[] w, int wb, float[] a, int a0, int a1, int a2, int a3, float[] acc, int at) {
        FloatVector r00 = FloatVector.fromArray(S, acc, at), r01 = FloatVector.fromArray(S, acc, at + L);
        FloatVector r02 = FloatVector.fromArray(S, acc, at + 2 * L), r03 = FloatVector.fromArray(S, acc, at + 3 * L);
        FloatVector r10 = FloatVector.fromArray(S, acc, at + 4 * L), r11 = FloatVector.fromArray(S, acc, at + 5 * L);
        FloatVector r12 = FloatVector.fromArray(S, acc, at + 6 * L), r13 = FloatVector.fromArray(S, acc, at + 7 * L);
        FloatVector r20 = FloatVector.fromArray(S, acc, at + 8 * L), r21 = FloatVector.fromArray(S, acc, at + 9 * L);
        FloatVector r22 = FloatVector.fromArray(S, acc, at + 10 * L), r23 = FloatVector.fromArray(S, acc, at + 11 * L);
        FloatVector r30 = FloatVector.fromArray(S, acc, at + 12 * L), r31 = FloatVector.fromArray(S, acc, at + 13 * L);
        FloatVector r32 = FloatVector.fromArray(S, acc, at + 14 * L), r33 = FloatVector.fromArray(S, acc, at + 15 * L);
        for (int p = k0; p < k1; p++) {
            int bp = wb + p * 4 * L;
            FloatVector b0 = FloatVector.fromArray(S, w, bp), b1 = FloatVector.fromArray(S, w, bp + L);
            FloatVector b2 = FloatVector.fromArray(S, w, bp + 2 * L), b3 = FloatVector.fromArray(S, w, bp + 3 * L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + p]);
            r00 = x.fma(b0, r00); r01 = x.fma(b1, r01); r02 = x.fma(b2, r02); r03 = x.fma(b3, r03);
            x = FloatVector.broadcast(S, a[a1 + p]);
            r10 = x.fma(b0, r10); r11 = x.fma(b1, r11); r12 = x.fma(b2, r12); r13 = x.fma(b3, r13);
            x = FloatVector.broadcast(S, a[a2 + p]);
            r20 = x.fma(b0, r20); r21 = x.fma(b1, r21); r22 = x.fma(b2, r22); r23 = x.fma(b3, r23);
            x = FloatVector.broadcast(S, a[a3 + p]);
            r30 = x.fma(b0, r30); r31 = x.fma(b1, r31); r32 = x.fma(b2, r32); r33 = x.fma(b3, r33);
        }
        r00.intoArray(acc, at); r01.intoArray(acc, at + L); r02.intoArray(acc, at + 2 * L); r03.intoArray(acc, at + 3 * L);
        r10.intoArray(acc, at + 4 * L); r11.intoArray(acc, at + 5 * L); r12.intoArray(acc, at + 6 * L); r13.intoArray(acc, at + 7 * L);
        r20.intoArray(acc, at + 8 * L); r21.intoArray(acc, at + 9 * L); r22.intoArray(acc, at + 10 * L); r23.intoArray(acc, at + 11 * L);
        r30.intoArray(acc, at + 12 * L); r31.intoArray(acc, at + 13 * L); r32.intoArray(acc, at + 14 * L); r33.intoArray(acc, at + 15 * L);
    }

}
