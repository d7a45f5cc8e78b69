package dev.ballast.cpu.matmul;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Copies float32 operands from strided native memory into the packed layouts the micro-kernel
 * reads: B into column panels of {@link KernelF32#NR} columns, A into strips of
 * {@link KernelF32#MR} rows, both k-major and zero-padded to full width. Offsets and strides are
 * in elements; any strides work (transposed views are packed by reading through them).
 */
final class PackF32 {

    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int MR = KernelF32.MR, NR = KernelF32.NR, L = KernelF32.L;
    /** One strip row of {@code MR} = 8 floats as a vector (the column-major A's MR rows at one k step). */
    private static final VectorSpecies<Float> STRIP = FloatVector.SPECIES_256;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private PackF32() {}

    /**
     * {@code dst[d + p*NR + j] = B[p, col0 + j]} for p in [0, k), j in [0, cols); zero for j >= cols. {@code tmp} is
     * scratch of at least {@code NR * k} elements for a column-major B (null or shorter takes the slow path).
     */
    static void panelB(MemorySegment b, long off, long rs, long cs, int k, int col0, int cols, float[] dst, int d, float[] tmp) {
        long base = off + col0 * cs;
        if (cs == 1 && cols == NR) {
            // Row-major B, full panel: two vector copies per k step, no per-call overhead.
            for (int p = 0; p < k; p++) {
                long o = 4 * (base + p * rs);
                FloatVector.fromMemorySegment(KernelF32.S, b, o, ByteOrder.LITTLE_ENDIAN).intoArray(dst, d + p * NR);
                FloatVector.fromMemorySegment(KernelF32.S, b, o + 4L * L, ByteOrder.LITTLE_ENDIAN).intoArray(dst, d + p * NR + L);
            }
            return;
        }
        if (cs == 1) {
            for (int p = 0; p < k; p++) {
                MemorySegment.copy(b, F, 4 * (base + p * rs), dst, d + p * NR, cols);
                if (cols < NR) Arrays.fill(dst, d + p * NR + cols, d + p * NR + NR, 0f);
            }
            return;
        }
        if (cols < NR) for (int p = 0; p < k; p++) Arrays.fill(dst, d + p * NR + cols, d + p * NR + NR, 0f);
        if (rs == 1 && tmp != null && tmp.length >= cols * k) {
            // Column-major B (the transposed weight of a linear layer): bulk-copy each column, then interleave
            // from the array (cheaper than one bounds-checked segment read per element).
            for (int j = 0; j < cols; j++) MemorySegment.copy(b, F, 4 * (base + j * cs), tmp, j * k, k);
            for (int j = 0; j < cols; j++) {
                int o = d + j, t = j * k;
                for (int p = 0; p < k; p++) dst[o + p * NR] = tmp[t + p];
            }
            return;
        }
        for (int j = 0; j < cols; j++) {
            long e = base + j * cs;
            int o = d + j;
            for (int p = 0; p < k; p++) dst[o + p * NR] = b.get(F, 4 * (e + p * rs));
        }
    }

    /**
     * Strips of a column-major A (unit row stride, column stride {@code cs}; a transposed row-major matrix such as a
     * weight gradient's {@code dY^T}): rows {@code [row0, row0 + rows)} of columns {@code [0, k)} become consecutive
     * strips of {@code MR * k} elements from {@code dst[d]}, rows past the end zero. A strip's MR rows at one k step
     * are MR contiguous floats of column p: one {@code MR}-lane vector read straight from the segment (masked for
     * the last, ragged strip, whose missing rows load as zero).
     */
    static void stripsColumnMajor(MemorySegment a, long off, long cs, int row0, int rows, int k, float[] dst, int d) {
        int full = rows / MR, rest = rows - full * MR;
        long base = 4 * (off + row0), step = 4 * cs;
        for (int s = 0; s < full; s++) {
            long src = base + 4L * s * MR;
            int o = d + s * MR * k;
            for (int p = 0; p < k; p++) FloatVector.fromMemorySegment(STRIP, a, src + p * step, LE).intoArray(dst, o + p * MR);
        }
        if (rest > 0) {
            VectorMask<Float> tail = STRIP.indexInRange(0, rest);
            long src = base + 4L * full * MR;
            int o = d + full * MR * k;
            for (int p = 0; p < k; p++) FloatVector.fromMemorySegment(STRIP, a, src + p * step, LE, tail).intoArray(dst, o + p * MR);
        }
    }

    /**
     * {@code dst[d + p*MR + r] = A[row0 + r, pc + p]} for p in [0, kc), r in [0, rows); zero for r >= rows.
     * {@code tmp} is scratch of at least {@code MR * kc} elements (a shorter one takes the slow path).
     */
    static void stripA(MemorySegment a, long off, long rs, long cs, int row0, int rows, int pc, int kc, float[] dst, int d,
                       float[] tmp) {
        long base = off + row0 * rs + pc * cs;
        if (cs == 1 && tmp.length >= MR * kc) {
            // Row-major A: bulk-copy the rows, then interleave them from the array (cheaper than
            // one bounds-checked segment read per element).
            for (int r = 0; r < rows; r++) MemorySegment.copy(a, F, 4 * (base + r * rs), tmp, r * kc, kc);
            if (rows < MR) Arrays.fill(tmp, rows * kc, MR * kc, 0f);
            for (int p = 0; p < kc; p++) {
                int o = d + p * MR;
                dst[o] = tmp[p];
                dst[o + 1] = tmp[kc + p];
                dst[o + 2] = tmp[2 * kc + p];
                dst[o + 3] = tmp[3 * kc + p];
                dst[o + 4] = tmp[4 * kc + p];
                dst[o + 5] = tmp[5 * kc + p];
                dst[o + 6] = tmp[6 * kc + p];
                dst[o + 7] = tmp[7 * kc + p];
            }
            return;
        }
        if (rs == 1 && rows == MR) {
            // A is column-major here (a transposed view): each k step is MR consecutive floats.
            for (int p = 0; p < kc; p++) MemorySegment.copy(a, F, 4 * (base + p * cs), dst, d + p * MR, MR);
            return;
        }
        for (int r = 0; r < rows; r++) {
            long e = base + r * rs;
            int o = d + r;
            for (int p = 0; p < kc; p++) dst[o + p * MR] = a.get(F, 4 * (e + p * cs));
        }
        for (int r = rows; r < MR; r++)
            for (int p = 0; p < kc; p++) dst[d + r + p * MR] = 0f;
    }
}
