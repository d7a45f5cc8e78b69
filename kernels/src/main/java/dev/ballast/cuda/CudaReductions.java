package dev.ballast.cuda;

import static dev.ballast.cuda.CudaChecks.computeSfx;
import static dev.ballast.cuda.CudaChecks.requireContiguous;
import static dev.ballast.cuda.CudaChecks.requireSameDtype;
import static dev.ballast.cuda.CudaChecks.sfx;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.ReduceOp;
import dev.ballast.engine.backend.Strided;

/**
 * The primitives of the CUDA backend that combine or pick elements along an axis ({@code reduce.cu},
 * {@code softmax.cu}, {@code index.cu}): reductions and arg-reductions (one block per row when the axis is
 * innermost, a thread per output otherwise), softmax and log-softmax, index select and add, gather and scatter add.
 */
final class CudaReductions {
    private final KernelHost host;
    private final CudaElementwise elementwise;

    CudaReductions(KernelHost host, CudaElementwise elementwise) {
        this.host = host;
        this.elementwise = elementwise;
    }

    private long ptr(Strided s) { return host.pointer(s); }

    void reduce(ReduceOp op, Strided x, long outer, long n, long inner, Strided out) {
        String t = computeSfx(x.dtype(), "reduce " + op);
        requireContiguous(x, "reduce " + op);
        requireContiguous(out, "reduce " + op);
        if (x.numel() != outer * n * inner || out.numel() != outer * inner)
            throw new IllegalArgumentException("reduce " + op + ": x has " + x.numel() + " elements and out " + out.numel()
                    + " for [outer=" + outer + ", n=" + n + ", inner=" + inner + "]");
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        if (arg ? out.dtype() != DType.I64 : out.dtype() != x.dtype())
            throw new IllegalArgumentException("reduce " + op + ": out must be " + (arg ? DType.I64 : x.dtype()) + ", got " + out.dtype());
        if (outer * inner == 0) return;
        if (n == 0) {
            if (op != ReduceOp.SUM) throw new IllegalArgumentException("reduce " + op + " over an empty axis has no result");
            elementwise.fill(out, 0);
            return;
        }
        host.bind();
        int code = OpCodes.reduce(op);
        String kind = arg ? "argreduce_" : "reduce_";
        if (inner == 1) {
            LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(outer).i64(n).i32(code);
            host.launchBlocks("reduce.cu", kind + "rows_" + t, outer, a);
        } else {
            LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i32(code);
            host.launch("reduce.cu", kind + "cols_" + t, outer * inner, a);
        }
    }

    void softmax(Strided x, long rows, long n, boolean log, Strided out) {
        if (x.dtype() != DType.F32 && x.dtype() != DType.F64)
            throw new IllegalArgumentException("softmax takes F32 or F64, not " + x.dtype());
        requireSameDtype(x, out, "softmax");
        requireContiguous(x, "softmax");
        requireContiguous(out, "softmax");
        if (x.numel() != rows * n || out.numel() != rows * n)
            throw new IllegalArgumentException("softmax: " + rows + " rows of " + n + " need " + rows * n + " elements, x has "
                    + x.numel() + " and out " + out.numel());
        if (rows * n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(rows).i64(n).i32(log ? 1 : 0);
        host.launchBlocks("softmax.cu", "softmax_" + sfx(x.dtype()), rows, a);
    }

    void indexSelect(Strided x, long outer, long n, long inner, Strided index, Strided out) {
        String t = indexChecks("indexSelect", x, outer * n * inner, index, out);
        long m = index.numel();
        if (out.numel() != outer * m * inner) throw new IllegalArgumentException("indexSelect: out has " + out.numel() + " elements, expected " + outer * m * inner);
        if (out.numel() == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i64(m);
        host.launch("index.cu", "index_select_" + t, out.numel(), a);
    }

    void indexAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        String t = indexChecks("indexAdd", src, outer * m * inner, index, out);
        if (index.numel() != m) throw new IllegalArgumentException("indexAdd: index has " + index.numel() + " entries, expected m=" + m);
        if (out.numel() != outer * n * inner) throw new IllegalArgumentException("indexAdd: out has " + out.numel() + " elements, expected " + outer * n * inner);
        if (outer * inner * m == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(m).i64(inner).i64(n);
        host.launch("index.cu", "index_add_" + t, outer * inner, a);
    }

    void gather(Strided x, long outer, long n, long inner, Strided index, long m, Strided out) {
        String t = indexChecks("gather", x, outer * n * inner, index, out);
        if (index.numel() != outer * m * inner || out.numel() != outer * m * inner)
            throw new IllegalArgumentException("gather: index and out need " + outer * m * inner + " elements, have " + index.numel() + " and " + out.numel());
        if (out.numel() == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(n).i64(inner).i64(m);
        host.launch("index.cu", "gather_" + t, out.numel(), a);
    }

    void scatterAdd(Strided src, long outer, long m, long inner, Strided index, Strided out, long n) {
        String t = indexChecks("scatterAdd", src, outer * m * inner, index, out);
        if (index.numel() != outer * m * inner) throw new IllegalArgumentException("scatterAdd: index has " + index.numel() + " elements, expected " + outer * m * inner);
        if (out.numel() != outer * n * inner) throw new IllegalArgumentException("scatterAdd: out has " + out.numel() + " elements, expected " + outer * n * inner);
        if (outer * inner * m == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(index)).ptr(ptr(out)).i64(outer).i64(m).i64(inner).i64(n);
        host.launch("index.cu", "scatter_add_" + t, outer * inner, a);
    }

    private static String indexChecks(String what, Strided values, long expected, Strided index, Strided out) {
        String t = computeSfx(values.dtype(), what);
        requireSameDtype(values, out, what);
        if (index.dtype() != DType.I64) throw new IllegalArgumentException(what + ": index must be I64, got " + index.dtype());
        requireContiguous(values, what);
        requireContiguous(index, what);
        requireContiguous(out, what);
        if (values.numel() != expected)
            throw new IllegalArgumentException(what + ": operand has " + values.numel() + " elements, expected " + expected);
        return t;
    }
}
