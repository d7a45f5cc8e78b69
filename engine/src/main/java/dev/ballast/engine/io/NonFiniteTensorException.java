package dev.ballast.engine.io;

import dev.ballast.engine.DType;
import dev.ballast.engine.HalfFloats;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A file was not written because a tensor holds a non-finite value (NaN or an infinity): a checkpoint of a
 * diverged model would replace a good one. Nothing was written; the previous file at the path is untouched.
 */
public final class NonFiniteTensorException extends IOException {
    private final String tensor;
    private final long index;

    NonFiniteTensorException(Path path, String tensor, long[] shape, long index, double value) {
        super(path + " not written: tensor '" + tensor + "' " + Arrays.toString(shape) + " holds the non-finite value " + value
                + " at element " + index + " (the previous file, if any, is kept)");
        this.tensor = tensor;
        this.index = index;
    }

    /** The name of the first tensor found holding a non-finite value. */
    public String tensor() { return tensor; }

    /** The row-major index of the first non-finite element in it. */
    public long index() { return index; }

    /** The index of the first non-finite element of little-endian {@code dt} values in {@code seg}, or -1 (and -1 for integers). */
    static long firstNonFinite(MemorySegment seg, DType dt) {
        if (!dt.isFloating()) return -1;
        long n = seg.byteSize() / dt.byteSize();
        switch (dt) {
            case F32 -> {
                for (long i = 0; i < n; i++)
                    if ((seg.get(ValueLayout.JAVA_INT_UNALIGNED, i * 4) & 0x7F80_0000) == 0x7F80_0000) return i;
            }
            case F64 -> {
                for (long i = 0; i < n; i++)
                    if ((seg.get(ValueLayout.JAVA_LONG_UNALIGNED, i * 8) & 0x7FF0_0000_0000_0000L) == 0x7FF0_0000_0000_0000L) return i;
            }
            case F16 -> {
                for (long i = 0; i < n; i++) if ((seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2) & 0x7C00) == 0x7C00) return i;
            }
            case BF16 -> {
                for (long i = 0; i < n; i++) if ((seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2) & 0x7F80) == 0x7F80) return i;
            }
            default -> { return -1; }
        }
        return -1;
    }

    static double valueAt(MemorySegment seg, DType dt, long i) {
        return switch (dt) {
            case F32 -> seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, i * 4);
            case F64 -> seg.get(ValueLayout.JAVA_DOUBLE_UNALIGNED, i * 8);
            case F16 -> HalfFloats.f16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2));
            case BF16 -> HalfFloats.bf16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2));
            default -> Double.NaN;
        };
    }
}
