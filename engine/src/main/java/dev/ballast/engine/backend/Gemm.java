package dev.ballast.engine.backend;

/**
 * A batched matrix product {@code c[b] = a[b] @ b[b]} for {@code b} in {@code [0, batch)}.
 * Each operand is described by its element offset, batch stride (0 repeats one matrix for every
 * batch), row stride and column stride, so transposed views need no copy. {@code c} is written,
 * never accumulated into. All three share one floating dtype.
 */
public record Gemm(int batch, int m, int n, int k,
                   Storage a, long aOffset, long aBatchStride, long aRowStride, long aColStride,
                   Storage b, long bOffset, long bBatchStride, long bRowStride, long bColStride,
                   Storage c, long cOffset, long cBatchStride, long cRowStride,
                   dev.ballast.engine.DType dtype) {
}
