package dev.ballast.engine;

import java.util.Arrays;

/** Shape arithmetic shared by the tensor ops: element counts, axis checks and NumPy broadcasting. */
public final class Shape {
    private Shape() {}

    /** Product of the dims (1 for a 0-d shape); throws when it does not fit in a long. */
    public static long numel(long[] dims) {
        for (long d : dims) if (d == 0) return 0;
        long n = 1;
        for (long d : dims) {
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has more than 2^63 - 1 elements");
            }
        }
        return n;
    }

    /** Checks dims are non-negative and their product fits in a long; returns a defensive copy. */
    public static long[] of(long... dims) {
        for (long d : dims)
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
        numel(dims);
        return dims.clone();
    }

    /** Bytes of a tensor of {@code dims} with {@code elementBytes}-byte elements; throws, naming them, when it overflows. */
    public static long bytes(long[] dims, long elementBytes) {
        try {
            return Math.multiplyExact(numel(dims), elementBytes);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " with " + elementBytes
                    + "-byte elements needs more than 2^63 - 1 bytes");
        }
    }

    /** int dims to long dims. */
    public static long[] of(int... dims) {
        long[] l = new long[dims.length];
        for (int i = 0; i < dims.length; i++) l[i] = dims[i];
        return of(l);
    }

    /** Resolves a possibly negative axis against a rank, naming the allowed range when out of it. */
    public static int axis(int axis, int rank, String op) {
        int r = Math.max(rank, 1);
        if (axis < -r || axis >= r)
            throw new IndexOutOfBoundsException(op + ": axis " + axis + " is out of range for a tensor of rank " + rank
                    + " (allowed " + (-r) + " to " + (r - 1) + ")");
        return axis < 0 ? axis + r : axis;
    }

    /** The NumPy broadcast of two shapes; names both shapes and the op when they do not broadcast. */
    public static long[] broadcast(long[] a, long[] b, String op) {
        int rank = Math.max(a.length, b.length);
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            long db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " cannot be broadcast (dimension " + i + ": " + da + " vs " + db + ")");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Strides that view {@code shape}/{@code strides} as {@code target} (zero strides on broadcast dims). */
    public static long[] broadcastStrides(long[] shape, long[] strides, long[] target) {
        long[] out = new long[target.length];
        int shift = target.length - shape.length;
        if (shift < 0) throw new IllegalArgumentException("cannot broadcast " + str(shape) + " to " + str(target));
        for (int i = 0; i < target.length; i++) {
            if (i < shift) { out[i] = 0; continue; }
            long d = shape[i - shift];
            if (d == target[i]) out[i] = strides[i - shift];
            else if (d == 1) out[i] = 0;
            else throw new IllegalArgumentException("cannot broadcast " + str(shape) + " to " + str(target));
        }
        return out;
    }

    /** "[2, 3]" */
    public static String str(long[] dims) { return Arrays.toString(dims); }
}
