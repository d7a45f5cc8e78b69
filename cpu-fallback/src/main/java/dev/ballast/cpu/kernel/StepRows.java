package dev.ballast.cpu.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Float32 rows of a {@code [B, T, n]} sequence from one group's first row (element offset {@code off}, row stride,
 * step stride; unit column stride), or of a {@code [B, n]} state ({@code stepStride} 0), or of a 1-D bias (row and
 * step stride 0): what a whole-layer recurrent kernel copies in and out at row {@code r} of step {@code s}. The
 * kernels compute on heap copies: one bulk copy per row and step costs less than a bounds- and liveness-checked
 * segment access per vector.
 */
public record StepRows(MemorySegment seg, long off, long rowStride, long stepStride) {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private long at(int r, int s, int col) { return 4 * (off + r * rowStride + s * stepStride + col); }

    /** Copies {@code n} floats from column {@code col} of row {@code r} at step {@code s} into {@code dst[d..]}. */
    void read(int r, int s, int col, int n, float[] dst, int d) { MemorySegment.copy(seg, F, at(r, s, col), dst, d, n); }

    /** Copies {@code src[d..d+n)} to column {@code col} of row {@code r} at step {@code s}. */
    void write(int r, int s, int col, int n, float[] src, int d) { MemorySegment.copy(src, d, seg, F, at(r, s, col), n); }
}
