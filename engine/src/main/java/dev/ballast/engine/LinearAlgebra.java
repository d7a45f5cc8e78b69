package dev.ballast.engine;

import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Gemm;
import java.util.Arrays;

/** Matrix products (NumPy semantics, batched with broadcasting) and softmax, with their gradients. */
final class LinearAlgebra {
    private LinearAlgebra() {}

    static Tensor matmul(Tensor a, Tensor b) {
        Ops.sameDevice("matmul", a, b);
        if (a.rank() == 0 || b.rank() == 0)
            throw new IllegalArgumentException("matmul: operands must have at least one dimension, got "
                    + Shape.str(a.shape) + " and " + Shape.str(b.shape));
        if (!a.dtype.isFloating() || !b.dtype.isFloating())
            throw new IllegalArgumentException("matmul: needs floating tensors, got " + a.dtype + " and " + b.dtype
                    + " (allowed: f32, f16, bf16, f64)");
        // 1-D operands are promoted to matrices and the added dim removed afterwards, as in NumPy.
        Tensor a2 = a.rank() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.rank() == 1 ? b.unsqueeze(1) : b;
        Tensor out = matmulNd(a2, b2);
        if (a.rank() == 1) out = out.squeeze(-2);
        if (b.rank() == 1) out = out.squeeze(-1);
        return out;
    }

    private static Tensor matmulNd(Tensor a, Tensor b) {
        long m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
        if (k != k2)
            throw new IllegalArgumentException("matmul: shapes " + Shape.str(a.shape) + " and " + Shape.str(b.shape)
                    + " do not align (" + k + " != " + k2 + ")");
        long[] ba = Arrays.copyOf(a.shape, a.rank() - 2), bb = Arrays.copyOf(b.shape, b.rank() - 2);
        long[] batch = Shape.broadcast(ba, bb, "matmul");
        DType t = DType.promote(a.dtype, b.dtype);
        boolean half = t.isHalf() && !a.backend().supportsHalfMatmul();
        DType ct = half ? DType.F32 : t;
        long[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Tensor.empty(a.device, ct, outShape);
        Operand A = operand(a, batch, m, k, ct), B = operand(b, batch, k, n, ct);
        int batchCount = Math.toIntExact(Shape.numel(batch));
        a.backend().matmul(new Gemm(batchCount, Math.toIntExact(m), Math.toIntExact(n), Math.toIntExact(k),
                A.t.storage, A.t.offset, A.batchStride, A.t.strides[A.t.rank() - 2], A.t.strides[A.t.rank() - 1],
                B.t.storage, B.t.offset, B.batchStride, B.t.strides[B.t.rank() - 2], B.t.strides[B.t.rank() - 1],
                out.storage, 0, m * n, n, ct));
        A.release();
        B.release();
        if (ct != t) {
            try (Tensor o = out) {
                out = Tensor.empty(a.device, t, outShape);
                a.backend().copy(o.view(), out.view());
            }
        }
        return Ops.recordSaving(out, "matmul", new Tensor[]{a, b}, g -> new Tensor[]{
                a.requiresGrad ? Reductions.sumTo(g.matmul(b.mT()), a.shape) : null,
                b.requiresGrad ? rightGradient(a, b, g) : null}, a, b);
    }

    /**
     * The gradient of {@code b} in {@code a @ b}: {@code a^T g}. When {@code b} is a transposed contiguous matrix (a
     * linear layer's {@code W^T}), it is computed as {@code (g^T a)^T}, so that its transpose, the weight's gradient,
     * comes out contiguous instead of needing a transposing copy; every element is the same chain of fused
     * multiply-adds over the batch rows in increasing order either way, so the bits are equal.
     */
    private static Tensor rightGradient(Tensor a, Tensor b, Tensor g) {
        if (a.rank() == 2 && b.rank() == 2 && g.rank() == 2 && b.shape[0] > 1 && b.shape[1] > 1
                && b.strides[0] == 1 && b.strides[1] == b.shape[0])
            return g.mT().matmul(a).mT();
        return Reductions.sumTo(a.mT().matmul(g), b.shape);
    }

    /** An operand expanded to the batch shape, with one batch stride when its batch dims allow, else copied. */
    private record Operand(Tensor t, long batchStride, boolean owned) {
        void release() { if (owned) t.close(); }
    }

    private static Operand operand(Tensor x, long[] batch, long rows, long cols, DType ct) {
        long[] full = Arrays.copyOf(batch, batch.length + 2);
        full[batch.length] = rows;
        full[batch.length + 1] = cols;
        long[] st = Shape.broadcastStrides(x.shape, x.strides, full);
        Long bs = singleBatchStride(batch, st);
        if (bs != null && x.dtype == ct) {
            return new Operand(new Tensor(x.device, x.storage, x.dtype, x.offset, full, st, x.version), bs, true);
        }
        Tensor c = Tensor.empty(x.device, ct, full);
        x.backend().copy(x.view().withLayout(full, st), c.view());
        return new Operand(c, rows * cols, true);
    }

    /** The stride that walks all batch dims as one, or null when they cannot be flattened. */
    private static Long singleBatchStride(long[] batch, long[] strides) {
        long stride = -1;
        long inner = 1;
        for (int i = batch.length - 1; i >= 0; i--) {
            if (batch[i] == 1) continue;
            if (stride < 0) {
                stride = strides[i];
            } else if (strides[i] != stride * inner) {
                return null;
            }
            inner *= batch[i];
        }
        return stride < 0 ? 0L : stride;
    }

    static Tensor softmax(Tensor x, int axis, boolean log) {
        int a = Shape.axis(axis, x.rank(), log ? "logSoftmax" : "softmax");
        if (!x.dtype.isFloating()) throw new IllegalArgumentException("softmax: needs a floating tensor, got " + x.dtype);
        int last = Math.max(x.rank() - 1, 0);
        Tensor moved = a == last ? x : Views.permuteRaw(x, swap(x.rank(), a, last));
        DType ct = Ops.computeType(x.dtype, x.backend());
        Tensor in = moved;
        if (ct != moved.dtype || !moved.isContiguous()) {
            in = Tensor.empty(x.device, ct, moved.shape);
            x.backend().copy(moved.view(), in.view());
        }
        long n = x.rank() == 0 ? 1 : moved.shape[last];
        long rows = n == 0 ? 0 : in.numel() / n;
        Tensor y = Tensor.empty(x.device, ct, moved.shape);
        x.backend().softmax(in.view(), rows, n, log, y.view());
        if (in != moved) in.close();
        Tensor out = y;
        if (a != last) {
            try (Tensor p = Views.permuteRaw(y, swap(x.rank(), a, last))) {
                out = Tensor.empty(x.device, ct, x.shape);
                x.backend().copy(p.view(), out.view());
            }
            y.close();
            moved.close();
        }
        if (ct != x.dtype) {
            try (Tensor o = out) {
                out = Tensor.empty(x.device, x.dtype, x.shape);
                x.backend().copy(o.view(), out.view());
            }
        }
        Tensor res = out;
        boolean lastAxis = a == last;
        return Ops.recordSaving(out, log ? "log_softmax" : "softmax", new Tensor[]{res}, g -> {
            if (lastAxis && g.dtype == res.dtype && (res.dtype == DType.F32 || res.dtype == DType.F64)
                    && res.backend().fusedActivations().orElse(null) instanceof FusedActivations f) {
                // one pass per row instead of a product, a row sum, a difference and a product, each with a temporary
                Tensor gc = g.contiguous(), rc = res.contiguous();
                Tensor dx = Tensor.empty(res.device, res.dtype, res.shape);
                f.softmaxBackward(rc.view(), gc.view(), rows, n, log, dx.view());
                return new Tensor[]{dx};
            }
            if (log) return new Tensor[]{g.sub(res.exp().mul(g.sum(a, true)))};
            return new Tensor[]{res.mul(g.sub(g.mul(res).sum(a, true)))};
        }, x);
    }

    private static int[] swap(int rank, int a, int b) {
        int[] p = new int[rank];
        for (int i = 0; i < rank; i++) p[i] = i;
        p[a] = b;
        p[b] = a;
        return p;
    }
}
