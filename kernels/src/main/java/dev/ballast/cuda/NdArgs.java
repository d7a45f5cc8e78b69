package dev.ballast.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The strided layout of up to three operands over one logical shape, as the kernels' {@code NdArgs}
 * struct takes it (common.cuh): {@code i64 rank; i64 shape[8]; i64 s0[8]; i64 s1[8]; i64 s2[8];},
 * 264 bytes. Size-1 dimensions are dropped and neighbouring dimensions that every operand walks
 * contiguously are merged, so a contiguous operand costs one division per element in the kernel.
 */
public record NdArgs(long[] shape, long[][] strides) {
    public static final int MAX_DIMS = 8;
    public static final long BYTES = 8 + 4 * 8 * MAX_DIMS;

    /** Collapses {@code shape} walked with one stride array per operand (1 to 3 operands). */
    public static NdArgs of(long[] shape, long[]... strides) {
        if (strides.length < 1 || strides.length > 3) throw new IllegalArgumentException("1 to 3 operands, got " + strides.length);
        for (long[] s : strides)
            if (s.length != shape.length)
                throw new IllegalArgumentException("strides " + Arrays.toString(s) + " do not match shape " + Arrays.toString(shape));
        List<long[]> dims = new ArrayList<>(); // each: {size, stride0, stride1, stride2}
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            long[] dim = new long[4];
            dim[0] = shape[d];
            for (int k = 0; k < strides.length; k++) dim[k + 1] = strides[k][d];
            if (!dims.isEmpty()) {
                long[] prev = dims.getLast();
                boolean mergeable = true;
                for (int k = 0; k < strides.length; k++) mergeable &= prev[k + 1] == dim[0] * dim[k + 1];
                if (mergeable) {
                    prev[0] *= dim[0];
                    for (int k = 0; k < strides.length; k++) prev[k + 1] = dim[k + 1];
                    continue;
                }
            }
            dims.add(dim);
        }
        if (dims.isEmpty()) dims.add(new long[] {1, 0, 0, 0});
        if (dims.size() > MAX_DIMS)
            throw new IllegalArgumentException("strided operands with " + dims.size() + " non-mergeable dimensions; the CUDA kernels take at most "
                    + MAX_DIMS + " (shape " + Arrays.toString(shape) + ")");
        long[] outShape = new long[dims.size()];
        long[][] outStrides = new long[3][dims.size()];
        for (int i = 0; i < dims.size(); i++) {
            outShape[i] = dims.get(i)[0];
            for (int k = 0; k < 3; k++) outStrides[k][i] = dims.get(i)[k + 1];
        }
        return new NdArgs(outShape, outStrides);
    }

    public int rank() { return shape.length; }

    /** Writes the struct at {@code offset} of {@code seg} (8-byte aligned). */
    public void write(MemorySegment seg, long offset) {
        seg.asSlice(offset, BYTES).fill((byte) 0);
        seg.set(ValueLayout.JAVA_LONG_UNALIGNED, offset, shape.length);
        for (int d = 0; d < shape.length; d++) {
            seg.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + 8 + 8L * d, shape[d]);
            for (int k = 0; k < 3; k++)
                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, offset + 8 + 8L * MAX_DIMS * (k + 1) + 8L * d, strides[k][d]);
        }
    }
}
