package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A strided float32 matrix copied into a dense row-major heap array, one bulk copy per row (or per column when the
 * matrix is a transposed view), for kernels that re-pack a weight: reading it element by element through a var
 * handle (an offset computation plus bounds and liveness checks per float) made packing the LSTM's {@code W_hh} cost
 * a sizeable share of a training step.
 */
final class DenseF32 {
    private DenseF32() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The {@link LoopScratch} slot of the copy; the loops themselves use lower slots. */
    private static final int SLOT = LoopScratch.SLOTS - 1;

    /**
     * {@code rows x cols} elements at element offset {@code off} with row and column strides {@code rs, cs}, as
     * {@code d[r * cols + c]} in the calling thread's scratch (valid until the next call on this thread).
     */
    static float[] rowMajor(MemorySegment w, long off, long rs, long cs, int rows, int cols) {
        float[] d = LoopScratch.get(SLOT, rows * cols);
        if (cs == 1 || cols == 1) {
            for (int r = 0; r < rows; r++) MemorySegment.copy(w, F, 4 * (off + r * rs), d, r * cols, cols);
        } else if (rs == 1 || rows == 1) {
            float[] col = LoopScratch.get(SLOT - 1, rows);
            for (int c = 0; c < cols; c++) {
                MemorySegment.copy(w, F, 4 * (off + c * cs), col, 0, rows);
                for (int r = 0; r < rows; r++) d[r * cols + c] = col[r];
            }
        } else {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) d[r * cols + c] = w.get(F, 4 * (off + r * rs + c * cs));
        }
        return d;
    }
}
