package dev.ballast.engine;

import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Strided;
import java.util.Arrays;

/**
 * Reductions over any set of axes, built on the backend's single {@code [outer, n, inner]} reduction:
 * a contiguous block of axes reduces in place; other sets are moved to the end first. Mean, variance and
 * norms are compositions.
 */
final class Reductions {
    private Reductions() {}

    /** Sorted, de-duplicated, validated axes. */
    static int[] normalize(int[] axes, int rank, String op) {
        boolean[] mark = new boolean[Math.max(rank, 1)];
        for (int a : axes) {
            int ax = Shape.axis(a, rank, op);
            if (mark[ax]) throw new IllegalArgumentException(op + ": axis " + a + " given twice");
            mark[ax] = true;
        }
        return java.util.stream.IntStream.range(0, rank).filter(i -> mark[i]).toArray();
    }

    static long[] reducedShape(long[] shape, int[] axes, boolean keepDim) {
        boolean[] red = new boolean[shape.length];
        for (int a : axes) red[a] = true;
        long[] out = new long[keepDim ? shape.length : shape.length - axes.length];
        int j = 0;
        for (int i = 0; i < shape.length; i++) {
            if (!red[i]) out[j++] = shape[i];
            else if (keepDim) out[j++] = 1;
        }
        return out;
    }

    /** Runs a backend reduction; the result has the reduced shape and {@code outType}. */
    static Tensor raw(ReduceOp op, Tensor x, int[] axes, boolean keepDim, DType outType) {
        x.checkOpen();
        int rank = x.rank();
        long[] outShape = reducedShape(x.shape, axes, keepDim);
        boolean block = axes.length == 0 || axes[axes.length - 1] - axes[0] == axes.length - 1;
        Tensor src = x;
        long outer = 1, n = 1, inner = 1;
        if (block && x.isContiguous()) {
            int first = axes.length == 0 ? rank : axes[0], last = axes.length == 0 ? rank - 1 : axes[axes.length - 1];
            for (int i = 0; i < first; i++) outer = Math.multiplyExact(outer, x.shape[i]);
            for (int i = first; i <= last; i++) n = Math.multiplyExact(n, x.shape[i]);
            for (int i = last + 1; i < rank; i++) inner = Math.multiplyExact(inner, x.shape[i]);
        } else {
            int[] perm = new int[rank];
            boolean[] red = new boolean[rank];
            for (int a : axes) red[a] = true;
            int j = 0;
            for (int i = 0; i < rank; i++) if (!red[i]) { perm[j++] = i; outer = Math.multiplyExact(outer, x.shape[i]); }
            for (int a : axes) { perm[j++] = a; n = Math.multiplyExact(n, x.shape[a]); }
            Tensor p = Views.permuteRaw(x, perm);
            src = Tensor.empty(x.device, x.dtype, p.shape);
            x.backend().copy(p.view(), src.view());
            p.close();
        }
        DType ct = Ops.computeType(x.dtype, x.backend());
        Tensor in = src;
        if (ct != src.dtype) {
            in = Tensor.empty(x.device, ct, src.shape);
            x.backend().copy(src.view(), in.view());
        }
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        if (n == 0 && op != ReduceOp.SUM)
            throw new IllegalArgumentException(op.name().toLowerCase() + ": cannot reduce over an empty axis of shape " + Shape.str(x.shape));
        DType rt = arg ? DType.I64 : ct;
        Tensor out = Tensor.empty(x.device, rt, outShape);
        x.backend().reduce(op, Strided.contiguous(in.storage, in.dtype, in.offset, in.numel()), outer, n, inner, out.view());
        if (in != src) in.close();
        if (src != x) src.close();
        if (out.dtype == outType) return out;
        try (out) {
            Tensor c = Tensor.empty(x.device, outType, outShape);
            x.backend().copy(out.view(), c.view());
            return c;
        }
    }

    static Tensor sum(Tensor x, int[] axes, boolean keepDim) {
        int[] ax = normalize(axes, x.rank(), "sum");
        DType t = x.dtype;
        Tensor out = raw(ReduceOp.SUM, x, ax, keepDim, t);
        long[] inShape = x.shape;
        return Ops.record(out, "sum", g -> new Tensor[]{expandBack(g, inShape, ax, keepDim)}, x);
    }

    /** Broadcasts a reduced gradient back over the reduced axes. */
    static Tensor expandBack(Tensor g, long[] inShape, int[] axes, boolean keepDim) {
        Tensor k = keepDim ? g : g.reshape(reducedShape(inShape, axes, true));
        return k.expand(inShape);
    }

    static Tensor mean(Tensor x, int[] axes, boolean keepDim) {
        int[] ax = normalize(axes, x.rank(), "mean");
        if (!x.dtype.isFloating()) throw new IllegalArgumentException("mean: needs a floating tensor, got " + x.dtype);
        long n = 1;
        for (int a : ax) n = Math.multiplyExact(n, x.shape[a]);
        return sum(x, ax, keepDim).div(n);
    }

    static Tensor extreme(ReduceOp op, Tensor x, int[] axes, boolean keepDim) {
        String name = op.name().toLowerCase();
        int[] ax = normalize(axes, x.rank(), name);
        Tensor out = raw(op, x, ax, keepDim, x.dtype);
        return Ops.recordSaving(out, name, new Tensor[]{x, out}, g -> {
            // the gradient is shared evenly among tied extremes, as torch.amax does
            Tensor yk = expandBack(keepDim ? out : out.reshape(reducedShape(x.shape, ax, true)), x.shape, ax, true);
            Tensor mask = x.eq(yk);
            Tensor count = mask.sum(ax, true);
            return new Tensor[]{expandBack(g, x.shape, ax, keepDim).mul(mask).div(count)};
        }, x);
    }

    static Tensor arg(ReduceOp op, Tensor x, int axis, boolean keepDim) {
        int[] ax = normalize(new int[]{axis}, x.rank(), op.name().toLowerCase());
        return raw(op, x, ax, keepDim, DType.I64);
    }

    static Tensor var(Tensor x, int[] axes, int correction, boolean keepDim) {
        int[] ax = normalize(axes, x.rank(), "var");
        long n = 1;
        for (int a : ax) n = Math.multiplyExact(n, x.shape[a]);
        if (n - correction <= 0)
            throw new IllegalArgumentException("var: " + n + " elements with correction " + correction + " leave no degrees of freedom");
        Tensor mu = mean(x, ax, true);
        Tensor sq = x.sub(mu).square();
        return sum(sq, ax, keepDim).div(n - correction);
    }

    static Tensor norm(Tensor x, double p, int[] axes, boolean keepDim) {
        if (!(p > 0)) throw new IllegalArgumentException("norm: p must be > 0 or infinity, got " + p);
        if (p == Double.POSITIVE_INFINITY) return extreme(ReduceOp.MAX, x.abs(), axes, keepDim);
        if (p == 1) return sum(x.abs(), axes, keepDim);
        if (p == 2) return sum(x.square(), axes, keepDim).sqrt();
        return sum(x.abs().pow(p), axes, keepDim).pow(1 / p);
    }

    /** Sums {@code g} over the dims along which a tensor of {@code shape} was broadcast to g's shape. */
    static Tensor sumTo(Tensor g, long[] shape) {
        if (Arrays.equals(g.shape, shape)) return g;
        int lead = g.rank() - shape.length;
        int[] axes = java.util.stream.IntStream.range(0, g.rank())
                .filter(i -> i < lead || (shape[i - lead] == 1 && g.shape[i] != 1)).toArray();
        Tensor s = sum(g, axes, true);
        return s.reshape(shape);
    }
}
