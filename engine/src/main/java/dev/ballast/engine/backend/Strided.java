package dev.ballast.engine.backend;

import dev.ballast.engine.DType;
import java.util.Arrays;

/**
 * A strided window onto a storage, the way every backend primitive sees its operands: element
 * offset, sizes and element strides. A stride of 0 repeats an element, which is how broadcasting
 * reaches the backends.
 */
public record Strided(Storage storage, DType dtype, long offset, long[] shape, long[] strides) {

    public Strided {
        if (shape.length != strides.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " and strides " + Arrays.toString(strides) + " differ in rank");
    }

    /** A contiguous row-major view of {@code shape} starting at element {@code offset}. */
    public static Strided contiguous(Storage storage, DType dtype, long offset, long... shape) {
        return new Strided(storage, dtype, offset, shape, rowMajorStrides(shape));
    }

    /** Row-major strides for a shape. */
    public static long[] rowMajorStrides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc = Math.multiplyExact(acc, Math.max(shape[i], 1));
        }
        return s;
    }

    public int rank() { return shape.length; }

    public long numel() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /** True when the elements are laid out densely in row-major order (size-1 dims ignore their stride). */
    public boolean isContiguous() {
        long expect = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) continue;
            if (strides[i] != expect) return false;
            expect = Math.multiplyExact(expect, shape[i]);
        }
        return true;
    }

    /** The same view with other shape and strides (used to broadcast). */
    public Strided withLayout(long[] newShape, long[] newStrides) {
        return new Strided(storage, dtype, offset, newShape, newStrides);
    }

    /** The same layout starting {@code delta} elements further on (a scalar inside a small stats tensor). */
    public Strided withOffset(long delta) {
        return new Strided(storage, dtype, offset + delta, shape, strides);
    }

    @Override public String toString() {
        return "Strided[" + dtype + " offset=" + offset + " shape=" + Arrays.toString(shape) + " strides=" + Arrays.toString(strides) + "]";
    }
}
