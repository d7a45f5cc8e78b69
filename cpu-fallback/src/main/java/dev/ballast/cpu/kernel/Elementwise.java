package dev.ballast.cpu.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Elementwise unary, binary, scalar and select kernels over strided operands (zero strides broadcast).
 * Contiguous or broadcast F32 rows of the common ops take {@link VecF32} loops; everything else goes
 * through double (floating) or long (integer) work arrays a chunk at a time, with the op dispatched
 * once per chunk. The compute domain is floating when any input is floating; the result is converted
 * to the output's dtype on store.
 */
public final class Elementwise {
    private Elementwise() {}

    /** Elements per work-array chunk. */
    static final int CHUNK = 1024;

    static void checkShape(String what, View x, View out) {
        if (!Arrays.equals(x.shape(), out.shape()))
            throw new IllegalArgumentException(what + ": operand shape " + Arrays.toString(x.shape())
                    + " differs from output shape " + Arrays.toString(out.shape()) + " (broadcast with zero strides first)");
    }

    /** {@code out = op(x)}. */
    public static void unary(Parallel par, UnaryOp op, View x, View out) {
        checkShape("unary " + op, x, out);
        if (op == UnaryOp.GELU && x.floating()) {
            Gelu.forward(par, x, out);
            return;
        }
        Rows.Plan p = Rows.plan(out.shape(), x.strides(), out.strides());
        long xs = p.inner(0), os = p.inner(1);
        boolean vec = x.dtype() == DType.F32 && out.dtype() == DType.F32 && os == 1 && (xs == 0 || xs == 1) && VecF32.supports(op);
        Rows.run(par, p, new long[] {x.offset(), out.offset()}, () -> {
            if (vec) return (offs, len) -> {
                MemorySegment xseg = xs == 0 ? VecF32.splat(0, x.seg().getAtIndex(JAVA_FLOAT, offs[0])) : x.seg();
                long xb = xs == 0 ? 0 : offs[0] * 4;
                VecF32.unary(op, xseg, xb, xs * 4, out.seg(), offs[1] * 4, len);
            };
            if (x.floating()) {
                double[] bx = new double[CHUNK], bo = new double[CHUNK];
                return (offs, len) -> {
                    for (int c = 0; c < len; c += CHUNK) {
                        int n = Math.min(CHUNK, len - c);
                        Buffers.loadD(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                        ScalarOps.unary(op, bx, bo, n);
                        Buffers.storeD(out.dtype(), out.seg(), offs[1] + c * os, os, bo, n);
                    }
                };
            }
            long[] bx = new long[CHUNK], bo = new long[CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c);
                    Buffers.loadL(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                    ScalarOps.unary(op, bx, bo, n, x.dtype());
                    Buffers.storeL(out.dtype(), out.seg(), offs[1] + c * os, os, bo, n);
                }
            };
        });
    }

    /** {@code out = op(a, b)}. */
    public static void binary(Parallel par, BinaryOp op, View a, View b, View out) {
        checkShape("binary " + op, a, out);
        checkShape("binary " + op, b, out);
        Rows.Plan p = Rows.plan(out.shape(), a.strides(), b.strides(), out.strides());
        long as = p.inner(0), bs = p.inner(1), os = p.inner(2);
        boolean vec = a.dtype() == DType.F32 && b.dtype() == DType.F32 && out.dtype() == DType.F32 && os == 1
                && (as == 0 || as == 1) && (bs == 0 || bs == 1) && VecF32.supports(op);
        boolean floating = a.floating() || b.floating();
        Rows.run(par, p, new long[] {a.offset(), b.offset(), out.offset()}, () -> {
            if (vec) return (offs, len) -> {
                MemorySegment aseg = as == 0 ? VecF32.splat(0, a.seg().getAtIndex(JAVA_FLOAT, offs[0])) : a.seg();
                MemorySegment bseg = bs == 0 ? VecF32.splat(1, b.seg().getAtIndex(JAVA_FLOAT, offs[1])) : b.seg();
                VecF32.binary(op, aseg, as == 0 ? 0 : offs[0] * 4, as * 4, bseg, bs == 0 ? 0 : offs[1] * 4, bs * 4,
                        out.seg(), offs[2] * 4, len);
            };
            if (floating) {
                double[] ba = new double[CHUNK], bb = new double[CHUNK], bo = new double[CHUNK];
                return (offs, len) -> {
                    for (int c = 0; c < len; c += CHUNK) {
                        int n = Math.min(CHUNK, len - c);
                        Buffers.loadD(a.dtype(), a.seg(), offs[0] + c * as, as, ba, n);
                        Buffers.loadD(b.dtype(), b.seg(), offs[1] + c * bs, bs, bb, n);
                        ScalarOps.binary(op, ba, bb, bo, n);
                        Buffers.storeD(out.dtype(), out.seg(), offs[2] + c * os, os, bo, n);
                    }
                };
            }
            long[] ba = new long[CHUNK], bb = new long[CHUNK], bo = new long[CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c);
                    Buffers.loadL(a.dtype(), a.seg(), offs[0] + c * as, as, ba, n);
                    Buffers.loadL(b.dtype(), b.seg(), offs[1] + c * bs, bs, bb, n);
                    ScalarOps.binary(op, ba, bb, bo, n);
                    Buffers.storeL(out.dtype(), out.seg(), offs[2] + c * os, os, bo, n);
                }
            };
        });
    }

    /**
     * {@code out = op(x, s)} or {@code op(s, x)}. The scalar is first converted to x's dtype (rounded
     * to float for F32, truncated for integers), as PyTorch does with a Python scalar.
     */
    public static void binaryScalar(Parallel par, BinaryOp op, View x, double scalar, boolean scalarFirst, View out) {
        checkShape("binary " + op + " with a scalar", x, out);
        Rows.Plan p = Rows.plan(out.shape(), x.strides(), out.strides());
        long xs = p.inner(0), os = p.inner(1);
        boolean vec = x.dtype() == DType.F32 && out.dtype() == DType.F32 && os == 1 && (xs == 0 || xs == 1) && VecF32.supports(op);
        double s = switch (x.dtype()) {
            case F32, F16, BF16 -> (float) scalar;
            case F64 -> scalar;
            case I32 -> (int) scalar;
            case I64 -> (long) scalar;
        };
        Rows.run(par, p, new long[] {x.offset(), out.offset()}, () -> {
            if (vec) {
                MemorySegment sseg = VecF32.splat(1, (float) s);
                return (offs, len) -> {
                MemorySegment xseg = xs == 0 ? VecF32.splat(0, x.seg().getAtIndex(JAVA_FLOAT, offs[0])) : x.seg();
                long xb = xs == 0 ? 0 : offs[0] * 4;
                if (scalarFirst) VecF32.binary(op, sseg, 0, 0, xseg, xb, xs * 4, out.seg(), offs[1] * 4, len);
                else VecF32.binary(op, xseg, xb, xs * 4, sseg, 0, 0, out.seg(), offs[1] * 4, len);
                };
            }
            if (x.floating()) {
                double[] bx = new double[CHUNK], bs = new double[CHUNK], bo = new double[CHUNK];
                Arrays.fill(bs, s);
                return (offs, len) -> {
                    for (int c = 0; c < len; c += CHUNK) {
                        int n = Math.min(CHUNK, len - c);
                        Buffers.loadD(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                        if (scalarFirst) ScalarOps.binary(op, bs, bx, bo, n); else ScalarOps.binary(op, bx, bs, bo, n);
                        Buffers.storeD(out.dtype(), out.seg(), offs[1] + c * os, os, bo, n);
                    }
                };
            }
            long[] bx = new long[CHUNK], bs = new long[CHUNK], bo = new long[CHUNK];
            Arrays.fill(bs, (long) s);
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c);
                    Buffers.loadL(x.dtype(), x.seg(), offs[0] + c * xs, xs, bx, n);
                    if (scalarFirst) ScalarOps.binary(op, bs, bx, bo, n); else ScalarOps.binary(op, bx, bs, bo, n);
                    Buffers.storeL(out.dtype(), out.seg(), offs[1] + c * os, os, bo, n);
                }
            };
        });
    }

    /** {@code out = cond != 0 ? a : b}; a NaN condition counts as true (it is nonzero). */
    public static void where(Parallel par, View cond, View a, View b, View out) {
        checkShape("where (condition)", cond, out);
        checkShape("where", a, out);
        checkShape("where", b, out);
        Rows.Plan p = Rows.plan(out.shape(), cond.strides(), a.strides(), b.strides(), out.strides());
        long cs = p.inner(0), as = p.inner(1), bs = p.inner(2), os = p.inner(3);
        Rows.run(par, p, new long[] {cond.offset(), a.offset(), b.offset(), out.offset()}, () -> {
            double[] bc = new double[CHUNK];
            if (out.floating()) {
                double[] ba = new double[CHUNK], bb = new double[CHUNK];
                return (offs, len) -> {
                    for (int c = 0; c < len; c += CHUNK) {
                        int n = Math.min(CHUNK, len - c);
                        Buffers.loadD(cond.dtype(), cond.seg(), offs[0] + c * cs, cs, bc, n);
                        Buffers.loadD(a.dtype(), a.seg(), offs[1] + c * as, as, ba, n);
                        Buffers.loadD(b.dtype(), b.seg(), offs[2] + c * bs, bs, bb, n);
                        for (int i = 0; i < n; i++) if (bc[i] == 0) ba[i] = bb[i];
                        Buffers.storeD(out.dtype(), out.seg(), offs[3] + c * os, os, ba, n);
                    }
                };
            }
            long[] ba = new long[CHUNK], bb = new long[CHUNK];
            return (offs, len) -> {
                for (int c = 0; c < len; c += CHUNK) {
                    int n = Math.min(CHUNK, len - c);
                    Buffers.loadD(cond.dtype(), cond.seg(), offs[0] + c * cs, cs, bc, n);
                    Buffers.loadL(a.dtype(), a.seg(), offs[1] + c * as, as, ba, n);
                    Buffers.loadL(b.dtype(), b.seg(), offs[2] + c * bs, bs, bb, n);
                    for (int i = 0; i < n; i++) if (bc[i] == 0) ba[i] = bb[i];
                    Buffers.storeL(out.dtype(), out.seg(), offs[3] + c * os, os, ba, n);
                }
            };
        });
    }
}
