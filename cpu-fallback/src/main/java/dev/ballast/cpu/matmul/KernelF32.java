package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 register-blocked micro-kernel: an {@code MR x NR} tile of C ({@code MR} = 8 rows,
 * {@code NR} = two vectors of columns, 32 floats with AVX-512) held in 16 vector registers while
 * {@code kc} rank-1 updates stream through them. Eight rows rather than six: 16 fused multiply-adds per pair of B
 * loads instead of 12 (the CPU has 32 vector registers), and the common row counts (batch sizes, hidden sizes such as
 * 64, 128, 256) divide into whole strips with no ragged edge tile.
 *
 * <p>A is read from a packed strip ({@code a[ai + p*MR + r]}), B from a packed panel
 * ({@code b[bi + p*NR + j]}). The tile starts from zero, or from C's current value when
 * {@code accumulate}, and every element gets one fused multiply-add per {@code p} in increasing
 * order, so splitting k into blocks leaves the result bits unchanged.
 */
final class KernelF32 {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static final int MR = 8;
    static final int NR = 2 * L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private KernelF32() {}

    /**
     * Updates the full tile at byte offset {@code c0} of {@code c} (row pitch {@code rowBytes}).
     *
     * <p>Two separate loop methods rather than one with a branch: C2 compiles each small and branch-free. With the
     * branch, the first compilation (profiled before any product with k above {@link BlockedF32#KC} had accumulated)
     * hit an uncommon trap, and the recompilation holding both the 12 loads and the loop sometimes came out with the
     * vector operations not intrinsified (every fma boxed: up to 200 MB of garbage and many times the time per
     * training step of the transformer, in some JVM runs and not others).
     */
    static void tile(int kc, float[] a, int ai, float[] b, int bi,
                     MemorySegment c, long c0, long rowBytes, boolean accumulate) {
        if (accumulate) tileOnto(kc, a, ai, b, bi, c, c0, rowBytes);
        else tileFresh(kc, a, ai, b, bi, c, c0, rowBytes);
    }

    /** The tile computed from zero, stored over C. */
    private static void tileFresh(int kc, float[] a, int ai, float[] b, int bi, MemorySegment c, long c0, long rowBytes) {
        final long vb = 4L * L;
        final long c1 = c0 + rowBytes, c2 = c1 + rowBytes, c3 = c2 + rowBytes, c4 = c3 + rowBytes, c5 = c4 + rowBytes;
        final long c6 = c5 + rowBytes, c7 = c6 + rowBytes;
        FloatVector z = FloatVector.zero(S);
        FloatVector r00 = z, r01 = z, r10 = z, r11 = z, r20 = z, r21 = z, r30 = z, r31 = z, r40 = z, r41 = z, r50 = z, r51 = z;
        FloatVector r60 = z, r61 = z, r70 = z, r71 = z;
        for (int p = 0; p < kc; p++) {
            int bp = bi + p * NR;
            int ap = ai + p * MR;
            FloatVector b0 = FloatVector.fromArray(S, b, bp);
            FloatVector b1 = FloatVector.fromArray(S, b, bp + L);
            FloatVector x = FloatVector.broadcast(S, a[ap]);
            r00 = x.fma(b0, r00); r01 = x.fma(b1, r01);
            x = FloatVector.broadcast(S, a[ap + 1]);
            r10 = x.fma(b0, r10); r11 = x.fma(b1, r11);
            x = FloatVector.broadcast(S, a[ap + 2]);
            r20 = x.fma(b0, r20); r21 = x.fma(b1, r21);
            x = FloatVector.broadcast(S, a[ap + 3]);
            r30 = x.fma(b0, r30); r31 = x.fma(b1, r31);
            x = FloatVector.broadcast(S, a[ap + 4]);
            r40 = x.fma(b0, r40); r41 = x.fma(b1, r41);
            x = FloatVector.broadcast(S, a[ap + 5]);
            r50 = x.fma(b0, r50); r51 = x.fma(b1, r51);
            x = FloatVector.broadcast(S, a[ap + 6]);
            r60 = x.fma(b0, r60); r61 = x.fma(b1, r61);
            x = FloatVector.broadcast(S, a[ap + 7]);
            r70 = x.fma(b0, r70); r71 = x.fma(b1, r71);
        }
        r00.intoMemorySegment(c, c0, LE); r01.intoMemorySegment(c, c0 + vb, LE);
        r10.intoMemorySegment(c, c1, LE); r11.intoMemorySegment(c, c1 + vb, LE);
        r20.intoMemorySegment(c, c2, LE); r21.intoMemorySegment(c, c2 + vb, LE);
        r30.intoMemorySegment(c, c3, LE); r31.intoMemorySegment(c, c3 + vb, LE);
        r40.intoMemorySegment(c, c4, LE); r41.intoMemorySegment(c, c4 + vb, LE);
        r50.intoMemorySegment(c, c5, LE); r51.intoMemorySegment(c, c5 + vb, LE);
        r60.intoMemorySegment(c, c6, LE); r61.intoMemorySegment(c, c6 + vb, LE);
        r70.intoMemorySegment(c, c7, LE); r71.intoMemorySegment(c, c7 + vb, LE);
    }

    /** The tile's fma chains continued from C's current values (the next k block), stored over C. */
    private static void tileOnto(int kc, float[] a, int ai, float[] b, int bi, MemorySegment c, long c0, long rowBytes) {
        final long vb = 4L * L;
        final long c1 = c0 + rowBytes, c2 = c1 + rowBytes, c3 = c2 + rowBytes, c4 = c3 + rowBytes, c5 = c4 + rowBytes;
        final long c6 = c5 + rowBytes, c7 = c6 + rowBytes;
        FloatVector r00 = FloatVector.fromMemorySegment(S, c, c0, LE), r01 = FloatVector.fromMemorySegment(S, c, c0 + vb, LE);
        FloatVector r10 = FloatVector.fromMemorySegment(S, c, c1, LE), r11 = FloatVector.fromMemorySegment(S, c, c1 + vb, LE);
        FloatVector r20 = FloatVector.fromMemorySegment(S, c, c2, LE), r21 = FloatVector.fromMemorySegment(S, c, c2 + vb, LE);
        FloatVector r30 = FloatVector.fromMemorySegment(S, c, c3, LE), r31 = FloatVector.fromMemorySegment(S, c, c3 + vb, LE);
        FloatVector r40 = FloatVector.fromMemorySegment(S, c, c4, LE), r41 = FloatVector.fromMemorySegment(S, c, c4 + vb, LE);
        FloatVector r50 = FloatVector.fromMemorySegment(S, c, c5, LE), r51 = FloatVector.fromMemorySegment(S, c, c5 + vb, LE);
        FloatVector r60 = FloatVector.fromMemorySegment(S, c, c6, LE), r61 = FloatVector.fromMemorySegment(S, c, c6 + vb, LE);
        FloatVector r70 = FloatVector.fromMemorySegment(S, c, c7, LE), r71 = FloatVector.fromMemorySegment(S, c, c7 + vb, LE);
        for (int p = 0; p < kc; p++) {
            int bp = bi + p * NR;
            int ap = ai + p * MR;
            FloatVector b0 = FloatVector.fromArray(S, b, bp);
            FloatVector b1 = FloatVector.fromArray(S, b, bp + L);
            FloatVector x = FloatVector.broadcast(S, a[ap]);
            r00 = x.fma(b0, r00); r01 = x.fma(b1, r01);
            x = FloatVector.broadcast(S, a[ap + 1]);
            r10 = x.fma(b0, r10); r11 = x.fma(b1, r11);
            x = FloatVector.broadcast(S, a[ap + 2]);
            r20 = x.fma(b0, r20); r21 = x.fma(b1, r21);
            x = FloatVector.broadcast(S, a[ap + 3]);
            r30 = x.fma(b0, r30); r31 = x.fma(b1, r31);
            x = FloatVector.broadcast(S, a[ap + 4]);
            r40 = x.fma(b0, r40); r41 = x.fma(b1, r41);
            x = FloatVector.broadcast(S, a[ap + 5]);
            r50 = x.fma(b0, r50); r51 = x.fma(b1, r51);
            x = FloatVector.broadcast(S, a[ap + 6]);
            r60 = x.fma(b0, r60); r61 = x.fma(b1, r61);
            x = FloatVector.broadcast(S, a[ap + 7]);
            r70 = x.fma(b0, r70); r71 = x.fma(b1, r71);
        }
        r00.intoMemorySegment(c, c0, LE); r01.intoMemorySegment(c, c0 + vb, LE);
        r10.intoMemorySegment(c, c1, LE); r11.intoMemorySegment(c, c1 + vb, LE);
        r20.intoMemorySegment(c, c2, LE); r21.intoMemorySegment(c, c2 + vb, LE);
        r30.intoMemorySegment(c, c3, LE); r31.intoMemorySegment(c, c3 + vb, LE);
        r40.intoMemorySegment(c, c4, LE); r41.intoMemorySegment(c, c4 + vb, LE);
        r50.intoMemorySegment(c, c5, LE); r51.intoMemorySegment(c, c5 + vb, LE);
        r60.intoMemorySegment(c, c6, LE); r61.intoMemorySegment(c, c6 + vb, LE);
        r70.intoMemorySegment(c, c7, LE); r71.intoMemorySegment(c, c7 + vb, LE);
    }

    /**
     * Updates a ragged tile of {@code rows x cols} (at most {@code MR x NR}) at byte offset
     * {@code c0}: runs the full kernel on the scratch {@code edge} and copies the valid part.
     * Padded rows and columns of the packed operands are zero, and their results are discarded.
     */
    static void edge(int kc, float[] a, int ai, float[] b, int bi,
                     MemorySegment c, long c0, long rowBytes, boolean accumulate,
                     int rows, int cols, MemorySegment edge) {
        long pitch = 4L * NR;
        long bytes = 4L * cols;
        if (accumulate)
            for (int r = 0; r < rows; r++) MemorySegment.copy(c, c0 + r * rowBytes, edge, r * pitch, bytes);
        tile(kc, a, ai, b, bi, edge, 0, pitch, accumulate);
        for (int r = 0; r < rows; r++) MemorySegment.copy(edge, r * pitch, c, c0 + r * rowBytes, bytes);
    }
}
