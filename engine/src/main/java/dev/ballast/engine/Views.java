package dev.ballast.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Views that share storage with their base (reshape, permute, narrow, expand...) and their gradients. */
final class Views {
    private Views() {}

    private static Tensor make(Tensor base, long offset, long[] shape, long[] strides) {
        base.checkOpen();
        return new Tensor(base.device, base.storage, base.dtype, offset, shape, strides, base.version);
    }

    static long[] inferShape(long[] target, long numel, String op, long[] from) {
        long[] s = target.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException(op + ": only one dimension can be -1 in " + Shape.str(target));
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException(op + ": negative dimension in " + Shape.str(target));
            } else {
                known = Math.multiplyExact(known, s[i]);
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0)
                throw new IllegalArgumentException(op + ": cannot infer -1 in " + Shape.str(target) + " for " + numel + " elements");
            s[infer] = numel / known;
        }
        if (Shape.numel(s) != numel)
            throw new IllegalArgumentException(op + ": shape " + Shape.str(target) + " has " + Shape.numel(s)
                    + " elements but tensor " + Shape.str(from) + " has " + numel);
        return s;
    }

    /** Strides for viewing (shape, strides) as newShape without copying, or null when impossible (PyTorch's computeStride). */
    static long[] viewStrides(long[] shape, long[] strides, long[] newShape) {
        long[] out = new long[newShape.length];
        if (Shape.numel(shape) == 0) return dev.ballast.engine.backend.Strided.rowMajorStrides(newShape);
        if (shape.length == 0) {
            Arrays.fill(out, 1);
            return out;
        }
        int viewD = newShape.length - 1;
        long chunkBaseStride = strides[strides.length - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel = Math.multiplyExact(tensorNumel, shape[d]);
            if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBaseStride)) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    out[viewD] = viewNumel * chunkBaseStride;
                    viewNumel = Math.multiplyExact(viewNumel, newShape[viewD]);
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0) {
                    chunkBaseStride = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? out : null;
    }

    static Tensor view(Tensor x, long[] newShape) {
        long[] s = inferShape(newShape, x.numel(), "view", x.shape);
        long[] st = viewStrides(x.shape, x.strides, s);
        if (st == null)
            throw new IllegalStateException("view: tensor with shape " + Shape.str(x.shape) + " and strides "
                    + Arrays.toString(x.strides) + " cannot be viewed as " + Shape.str(s) + "; use reshape()");
        Tensor out = make(x, x.offset, s, st);
        long[] old = x.shape;
        return Ops.record(out, "view", g -> new Tensor[]{g.reshape(old)}, x);
    }

    static Tensor reshape(Tensor x, long[] newShape) {
        long[] s = inferShape(newShape, x.numel(), "reshape", x.shape);
        if (viewStrides(x.shape, x.strides, s) != null) return view(x, s);
        return view(x.copy(), s);
    }

    static Tensor permuteRaw(Tensor x, int[] axes) {
        int r = x.rank();
        if (axes.length != r)
            throw new IllegalArgumentException("permute: " + axes.length + " axes given for a tensor of rank " + r);
        boolean[] seen = new boolean[r];
        long[] s = new long[r], st = new long[r];
        for (int i = 0; i < r; i++) {
            int a = Shape.axis(axes[i], r, "permute");
            if (seen[a]) throw new IllegalArgumentException("permute: axis " + axes[i] + " repeated in " + Arrays.toString(axes));
            seen[a] = true;
            s[i] = x.shape[a];
            st[i] = x.strides[a];
        }
        return make(x, x.offset, s, st);
    }

    static Tensor permute(Tensor x, int[] axes) {
        Tensor out = permuteRaw(x, axes);
        int[] inv = new int[axes.length];
        for (int i = 0; i < axes.length; i++) inv[Shape.axis(axes[i], axes.length, "permute")] = i;
        return Ops.record(out, "permute", g -> new Tensor[]{g.permute(inv)}, x);
    }

    static Tensor transpose(Tensor x, int a, int b) {
        int r = x.rank();
        int[] p = new int[r];
        for (int i = 0; i < r; i++) p[i] = i;
        int aa = Shape.axis(a, r, "transpose"), bb = Shape.axis(b, r, "transpose");
        p[aa] = bb;
        p[bb] = aa;
        return permute(x, p);
    }

    static Tensor narrow(Tensor x, int axis, long start, long length) {
        int a = Shape.axis(axis, x.rank(), "narrow");
        long size = x.shape[a];
        if (start < 0 || length < 0 || start + length > size)
            throw new IndexOutOfBoundsException("narrow: range [" + start + ", " + (start + length) + ") is outside [0, "
                    + size + "] along axis " + axis + " of shape " + Shape.str(x.shape));
        return slice(x, a, start, start + length, 1);
    }

    static Tensor slice(Tensor x, int axis, long start, long end, long step) {
        int a = Shape.axis(axis, x.rank(), "slice");
        if (step <= 0) throw new IllegalArgumentException("slice: step must be positive, got " + step);
        long size = x.shape[a];
        long s0 = Math.clamp(start < 0 ? start + size : start, 0, size);
        long e0 = Math.clamp(end < 0 ? end + size : end, 0, size);
        long len = e0 > s0 ? (e0 - s0 + step - 1) / step : 0;
        long[] s = x.shape.clone(), st = x.strides.clone();
        s[a] = len;
        st[a] = x.strides[a] * step;
        Tensor out = make(x, x.offset + s0 * x.strides[a], s, st);
        long[] inShape = x.shape;
        return Ops.record(out, "slice", g -> new Tensor[]{sliceBackward(g, inShape, a, s0, len, step)}, x);
    }

    /** The gradient of a slice: {@code g} placed into zeros of the input's shape (a strided write when the backend has one). */
    private static Tensor sliceBackward(Tensor g, long[] inShape, int axis, long start, long len, long step) {
        Tensor z = Tensor.zeros(g.device, g.dtype, inShape);
        if (g.backend().supportsStridedCopyDestination()) {
            long[] st = z.strides.clone();
            long[] sh = inShape.clone();
            sh[axis] = len;
            st[axis] = z.strides[axis] * step;
            g.backend().copy(g.view(), new dev.ballast.engine.backend.Strided(z.storage, z.dtype, start * z.strides[axis], sh, st));
            return z;
        }
        try (Tensor idx = Tensor.arange(g.device, DType.I64, start, start + len * step, step)) {
            return Indexing.indexAddInto(z, axis, idx, g);
        }
    }

    static Tensor select(Tensor x, int axis, long i) {
        int a = Shape.axis(axis, x.rank(), "select");
        long size = x.shape[a];
        long ii = i < 0 ? i + size : i;
        if (ii < 0 || ii >= size)
            throw new IndexOutOfBoundsException("select: index " + i + " is out of range for axis " + axis + " of size " + size);
        return squeeze(slice(x, a, ii, ii + 1, 1), a);
    }

    static Tensor expand(Tensor x, long[] newShape) {
        long[] s = newShape.clone();
        int shift = s.length - x.rank();
        if (shift < 0) throw new IllegalArgumentException("expand: cannot expand " + Shape.str(x.shape) + " to fewer dims " + Shape.str(newShape));
        for (int i = 0; i < s.length; i++) if (s[i] == -1) {
            if (i < shift) throw new IllegalArgumentException("expand: -1 not allowed for new leading dims in " + Shape.str(newShape));
            s[i] = x.shape[i - shift];
        }
        long[] st = Shape.broadcastStrides(x.shape, x.strides, s);
        if (Arrays.equals(s, x.shape)) return x;
        Tensor out = make(x, x.offset, s, st);
        long[] inShape = x.shape;
        return Ops.record(out, "expand", g -> new Tensor[]{Reductions.sumTo(g, inShape)}, x);
    }

    static Tensor unsqueeze(Tensor x, int axis) {
        int a = Shape.axis(axis, x.rank() + 1, "unsqueeze");
        long[] s = new long[x.rank() + 1];
        for (int i = 0, j = 0; i < s.length; i++) s[i] = i == a ? 1 : x.shape[j++];
        return view(x, s);
    }

    static Tensor squeeze(Tensor x, int axis) {
        int a = Shape.axis(axis, x.rank(), "squeeze");
        if (x.shape[a] != 1) return x;
        long[] s = new long[x.rank() - 1];
        long[] st = new long[x.rank() - 1];
        for (int i = 0, j = 0; i < x.rank(); i++) if (i != a) { s[j] = x.shape[i]; st[j++] = x.strides[i]; }
        Tensor out = make(x, x.offset, s, st);
        long[] inShape = x.shape;
        return Ops.record(out, "squeeze", g -> new Tensor[]{g.reshape(inShape)}, x);
    }

    static List<Tensor> split(Tensor x, long[] sizes, int axis) {
        int a = Shape.axis(axis, x.rank(), "split");
        long total = 0;
        for (long s : sizes) {
            if (s < 0) throw new IllegalArgumentException("split: negative size in " + Arrays.toString(sizes));
            total += s;
        }
        if (total != x.shape[a])
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " sum to " + total
                    + " but axis " + axis + " has " + x.shape[a]);
        List<Tensor> out = new ArrayList<>();
        long start = 0;
        for (long s : sizes) {
            out.add(narrow(x, a, start, s));
            start += s;
        }
        return out;
    }

    static List<Tensor> split(Tensor x, long size, int axis) {
        if (size <= 0) throw new IllegalArgumentException("split: size must be positive, got " + size);
        int a = Shape.axis(axis, x.rank(), "split");
        long n = x.shape[a];
        int parts = (int) Math.max(1, (n + size - 1) / size);
        long[] sizes = new long[parts];
        for (int i = 0; i < parts; i++) sizes[i] = Math.min(size, n - i * size);
        return split(x, sizes, a);
    }
}
