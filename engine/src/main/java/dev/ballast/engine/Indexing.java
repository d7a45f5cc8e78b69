package dev.ballast.engine;

import java.util.ArrayList;
import java.util.List;

/** Gather/scatter style ops (index select, gather, scatter-add, concat, one-hot) and their gradients. */
final class Indexing {
    private Indexing() {}

    private static long prod(long[] s, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) p *= s[i];
        return p;
    }

    private static Tensor indexTensor(Tensor index, String op) {
        if (index.dtype.isFloating())
            throw new IllegalArgumentException(op + ": index must be an integer tensor (i32 or i64), got " + index.dtype);
        return index.dtype == DType.I64 && index.isContiguous() ? index : contiguousCopy(index, DType.I64);
    }

    private static Tensor contiguousCopy(Tensor t, DType dtype) {
        Tensor out = Tensor.empty(t.device, dtype, t.shape);
        t.backend().copy(t.view(), out.view());
        return out;
    }

    private static Tensor contiguousForKernel(Tensor t) {
        DType ct = Ops.computeType(t.dtype, t.backend());
        return ct == t.dtype && t.isContiguous() ? t : contiguousCopy(t, ct);
    }

    private static Tensor toType(Tensor t, DType type) {
        if (t.dtype == type) return t;
        try (t) {
            return contiguousCopy(t, type);
        }
    }

    static Tensor indexSelect(Tensor x, int axis, Tensor index) {
        int a = Shape.axis(axis, x.rank(), "indexSelect");
        if (index.rank() != 1) throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Shape.str(index.shape));
        Ops.sameDevice("indexSelect", x, index);
        Tensor idx = indexTensor(index, "indexSelect");
        Tensor xc = contiguousForKernel(x);
        long outer = prod(x.shape, 0, a), n = x.shape[a], inner = prod(x.shape, a + 1, x.rank());
        long m = idx.numel();
        long[] outShape = x.shape.clone();
        outShape[a] = m;
        Tensor out = Tensor.empty(x.device, xc.dtype, outShape);
        x.backend().indexSelect(xc.view(), outer, n, inner, idx.view(), out.view());
        if (xc != x) xc.close();
        Tensor res = toType(out, x.dtype);
        long[] inShape = x.shape;
        return Ops.recordSaving(res, "index_select", new Tensor[]{idx}, g -> new Tensor[]{
                indexAddInto(Tensor.zeros(g.device, g.dtype, inShape), a, idx, g), null}, x, idx);
    }

    /** {@code target[..., index[j], ...] += src[..., j, ...]} along axis, in place on a fresh contiguous target. */
    static Tensor indexAddInto(Tensor target, int axis, Tensor index, Tensor src) {
        Tensor idx = indexTensor(index, "indexAdd");
        DType ct = Ops.computeType(target.dtype, target.backend());
        Tensor t = ct == target.dtype ? target : contiguousCopy(target, ct);
        Tensor s = src.dtype == ct && src.isContiguous() ? src : contiguousCopy(src, ct);
        long outer = prod(target.shape, 0, axis), n = target.shape[axis], inner = prod(target.shape, axis + 1, target.rank());
        target.backend().indexAdd(s.view(), outer, idx.numel(), inner, idx.view(), t.view(), n);
        if (s != src) s.close();
        if (t != target) {
            target.backend().copy(t.view(), target.view());
            t.close();
        }
        return target;
    }

    private static void checkGatherShapes(String op, Tensor x, int a, Tensor index) {
        if (index.rank() != x.rank())
            throw new IllegalArgumentException(op + ": index rank " + index.rank() + " differs from tensor rank " + x.rank());
        for (int i = 0; i < x.rank(); i++)
            if (i != a && index.shape[i] != x.shape[i])
                throw new IllegalArgumentException(op + ": index shape " + Shape.str(index.shape) + " must equal tensor shape "
                        + Shape.str(x.shape) + " except along axis " + a);
    }

    static Tensor gather(Tensor x, int axis, Tensor index) {
        int a = Shape.axis(axis, x.rank(), "gather");
        Ops.sameDevice("gather", x, index);
        checkGatherShapes("gather", x, a, index);
        Tensor idx = indexTensor(index, "gather");
        Tensor xc = contiguousForKernel(x);
        long outer = prod(x.shape, 0, a), n = x.shape[a], inner = prod(x.shape, a + 1, x.rank());
        long m = idx.shape[a];
        Tensor out = Tensor.empty(x.device, xc.dtype, idx.shape);
        x.backend().gather(xc.view(), outer, n, inner, idx.view(), m, out.view());
        if (xc != x) xc.close();
        Tensor res = toType(out, x.dtype);
        long[] inShape = x.shape;
        return Ops.recordSaving(res, "gather", new Tensor[]{idx}, g -> new Tensor[]{
                scatterAddInto(Tensor.zeros(g.device, g.dtype, inShape), a, idx, g), null}, x, idx);
    }

    static Tensor scatterAddInto(Tensor target, int a, Tensor idx, Tensor src) {
        DType ct = Ops.computeType(target.dtype, target.backend());
        Tensor t = ct == target.dtype ? target : contiguousCopy(target, ct);
        Tensor s = src.dtype == ct && src.isContiguous() ? src : contiguousCopy(src, ct);
        long outer = prod(target.shape, 0, a), n = target.shape[a], inner = prod(target.shape, a + 1, target.rank());
        target.backend().scatterAdd(s.view(), outer, idx.shape[a], inner, idx.view(), t.view(), n);
        if (s != src) s.close();
        if (t != target) {
            target.backend().copy(t.view(), target.view());
            t.close();
        }
        return target;
    }

    static Tensor scatterAdd(Tensor self, int axis, Tensor index, Tensor src) {
        int a = Shape.axis(axis, self.rank(), "scatterAdd");
        Ops.sameDevice("scatterAdd", self, index);
        Ops.sameDevice("scatterAdd", self, src);
        checkGatherShapes("scatterAdd", self, a, index);
        if (!java.util.Arrays.equals(src.shape, index.shape))
            throw new IllegalArgumentException("scatterAdd: src shape " + Shape.str(src.shape) + " must equal index shape " + Shape.str(index.shape));
        Tensor idx = indexTensor(index, "scatterAdd");
        Tensor out = Tensor.empty(self.device, self.dtype, self.shape);
        self.backend().copy(self.view(), out.view());
        Tensor srcT = src.dtype == self.dtype ? src : contiguousCopy(src, self.dtype);
        scatterAddInto(out, a, idx, srcT);
        return Ops.recordSaving(out, "scatter_add", new Tensor[]{idx}, g -> new Tensor[]{g, null, src.requiresGrad ? g.gather(a, idx) : null}, self, idx, src);
    }

    static Tensor oneHot(Tensor labels, int classes) {
        if (labels.dtype.isFloating()) throw new IllegalArgumentException("oneHot: labels must be integers, got " + labels.dtype);
        if (classes <= 0) throw new IllegalArgumentException("oneHot: classes must be positive, got " + classes);
        long[] l = labels.toLongArray();
        for (long v : l)
            if (v < 0 || v >= classes)
                throw new IndexOutOfBoundsException("oneHot: label " + v + " is outside [0, " + classes + ")");
        try (Tensor range = Tensor.arange(labels.device, classes); Tensor lab = labels.to(DType.I64).unsqueeze(-1);
             Tensor hit = lab.eq(range)) {
            return hit.to(DType.F32);
        }
    }

    static Tensor concat(List<Tensor> parts, int axis) {
        if (parts.isEmpty()) throw new IllegalArgumentException("concat: needs at least one tensor");
        Tensor first = parts.getFirst();
        int a = Shape.axis(axis, first.rank(), "concat");
        DType t = first.dtype;
        long total = 0;
        for (Tensor p : parts) {
            Ops.sameDevice("concat", first, p);
            if (p.rank() != first.rank()) throw new IllegalArgumentException("concat: ranks differ: " + Shape.str(first.shape) + " and " + Shape.str(p.shape));
            for (int i = 0; i < p.rank(); i++)
                if (i != a && p.shape[i] != first.shape[i])
                    throw new IllegalArgumentException("concat: shapes " + Shape.str(first.shape) + " and " + Shape.str(p.shape)
                            + " differ outside axis " + a);
            t = DType.promote(t, p.dtype);
            total += p.shape[a];
        }
        long[] outShape = first.shape.clone();
        outShape[a] = total;
        boolean strided = first.backend().supportsStridedCopyDestination();
        // with strided copies every element is written by exactly one part, so the output needs no zeroing
        Tensor out = strided ? Tensor.empty(first.device, t, outShape) : Tensor.zeros(first.device, t, outShape);
        long start = 0;
        long[] starts = new long[parts.size()];
        for (int i = 0; i < parts.size(); i++) {
            Tensor p = parts.get(i);
            starts[i] = start;
            Tensor pc = p.dtype == t && (strided || p.isContiguous()) ? p : contiguousCopy(p, t);
            if (strided) {
                long[] sh = outShape.clone();
                sh[a] = p.shape[a];
                out.backend().copy(pc.view(), new dev.ballast.engine.backend.Strided(out.storage, t, start * out.strides[a], sh, out.strides));
            } else {
                try (Tensor idx = Tensor.arange(p.device, DType.I64, start, start + p.shape[a], 1)) {
                    indexAddInto(out, a, idx, pc);
                }
            }
            if (pc != p) pc.close();
            start += p.shape[a];
        }
        Tensor[] inputs = parts.toArray(new Tensor[0]);
        return Ops.record(out, "concat", g -> {
            Tensor[] gs = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++)
                if (inputs[i].requiresGrad) gs[i] = g.narrow(a, starts[i], inputs[i].shape[a]);
            return gs;
        }, inputs);
    }

    static Tensor stack(List<Tensor> parts, int axis) {
        if (parts.isEmpty()) throw new IllegalArgumentException("stack: needs at least one tensor");
        int a = Shape.axis(axis, parts.getFirst().rank() + 1, "stack");
        List<Tensor> un = new ArrayList<>();
        for (Tensor p : parts) {
            if (!java.util.Arrays.equals(p.shape, parts.getFirst().shape))
                throw new IllegalArgumentException("stack: shapes " + Shape.str(parts.getFirst().shape) + " and " + Shape.str(p.shape) + " differ");
            un.add(p.unsqueeze(a));
        }
        return concat(un, a);
    }
}
