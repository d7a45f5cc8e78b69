package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Moves runs of contiguous F32 values between native memory and double work arrays with vector loads and stores
 * (widening exactly, narrowing with one rounding), for kernels that compute in double: {@link #L} floats widen to
 * one {@link VecExp#D} vector. A ragged end takes a masked load or store, which touches no byte past the run.
 */
final class F32Rows {
    private F32Rows() {}

    static final VectorSpecies<Double> D = VecExp.D;
    /** Floats as many as {@link #D} has doubles. */
    static final VectorSpecies<Float> FH = VectorSpecies.of(float.class,
            jdk.incubator.vector.VectorShape.forBitSize(D.vectorBitSize() / 2));
    static final int L = FH.length();
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** {@code n} rounded up to whole vectors. */
    static int padded(int n) { return (n + L - 1) / L * L; }

    /** {@code m} floats at byte address {@code at} into {@code d} as doubles, zero-padded to {@code padded}. */
    static void widen(MemorySegment s, long at, double[] d, int m, int padded) {
        int i = 0;
        for (int up = FH.loopBound(m); i < up; i += L)
            ((DoubleVector) FloatVector.fromMemorySegment(FH, s, at + 4L * i, NO).convertShape(VectorOperators.F2D, D, 0)).intoArray(d, i);
        if (i < padded) {
            VectorMask<Float> mask = FH.indexInRange(i, m);
            ((DoubleVector) FloatVector.fromMemorySegment(FH, s, at + 4L * i, NO, mask).convertShape(VectorOperators.F2D, D, 0)).intoArray(d, i);
        }
    }

    /** The first {@code m} doubles of {@code d} rounded to float, stored at byte address {@code at}. */
    static void narrow(double[] d, MemorySegment out, long at, int m) {
        int i = 0;
        for (int up = FH.loopBound(m); i < up; i += L)
            DoubleVector.fromArray(D, d, i).convertShape(VectorOperators.D2F, FH, 0).intoMemorySegment(out, at + 4L * i, NO);
        if (i < m)
            ((FloatVector) DoubleVector.fromArray(D, d, i).convertShape(VectorOperators.D2F, FH, 0))
                    .intoMemorySegment(out, at + 4L * i, NO, FH.indexInRange(i, m));
    }
}
