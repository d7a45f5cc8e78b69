package dev.ballast.cuda;

import static dev.ballast.cuda.CudaChecks.computeSfx;
import static dev.ballast.cuda.CudaChecks.requireContiguous;
import static dev.ballast.cuda.CudaChecks.requireSameCount;
import static dev.ballast.cuda.CudaChecks.requireSameDtype;
import static dev.ballast.cuda.CudaChecks.requireSameShape;
import static dev.ballast.cuda.CudaChecks.sfx;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.BinaryOp;
import dev.ballast.engine.backend.RandomKind;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;

/**
 * The element-by-element primitives of the CUDA backend ({@code copy.cu}, {@code random.cu}, {@code elementwise.cu}):
 * copy and cast, fill, random, unary, binary, binary with a scalar, and where. Contiguous operands take the
 * {@code _contig} kernels; any other layout walks an {@link NdArgs} of merged dimensions.
 */
final class CudaElementwise {
    private final KernelHost host;

    CudaElementwise(KernelHost host) { this.host = host; }

    private long ptr(Strided s) { return host.pointer(s); }

    void copy(Strided src, Strided dst) {
        requireContiguous(dst, "copy");
        requireSameCount(src, dst, "copy");
        long n = dst.numel();
        if (n == 0) return;
        host.bind();
        if (src.dtype() == dst.dtype() && src.isContiguous()) {
            host.copyDeviceToDevice(ptr(dst), ptr(src), n * dst.dtype().byteSize());
            return;
        }
        LaunchArgs a = LaunchArgs.get().ptr(ptr(src)).ptr(ptr(dst)).i64(n).nd(NdArgs.of(src.shape(), src.strides()));
        host.launch("copy.cu", "cast_" + sfx(src.dtype()) + "_" + sfx(dst.dtype()), n, a);
    }

    void fill(Strided dst, double value) {
        requireContiguous(dst, "fill");
        long n = dst.numel();
        if (n == 0) return;
        host.bind();
        long bits = switch (dst.dtype()) {
            case F32 -> Float.floatToRawIntBits((float) value) & 0xFFFFFFFFL;
            case F64 -> Double.doubleToRawLongBits(value);
            case F16 -> Float.floatToFloat16((float) value) & 0xFFFFL;
            case BF16 -> HalfBits.toBf16((float) value) & 0xFFFFL;
            case I32 -> ((int) value) & 0xFFFFFFFFL;
            case I64 -> (long) value;
        };
        int size = dst.dtype().byteSize();
        if (bits == 0) {
            host.zero(ptr(dst), n * size);
            return;
        }
        LaunchArgs a = LaunchArgs.get().ptr(ptr(dst)).i64(n);
        switch (size) {
            case 2 -> a.u16((short) bits);
            case 4 -> a.i32((int) bits);
            default -> a.i64(bits);
        }
        host.launch("copy.cu", "fill_b" + size * 8, n, a);
    }

    void random(RandomKind kind, long seed, long offset, Strided dst) {
        requireContiguous(dst, "random");
        if (dst.dtype() != DType.F32 && dst.dtype() != DType.F64)
            throw new IllegalArgumentException("random fills F32 or F64, not " + dst.dtype());
        long n = dst.numel();
        if (n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(dst)).i64(n).i64(seed).i64(offset);
        String k = (kind == RandomKind.UNIFORM ? "uniform_" : "normal_") + sfx(dst.dtype());
        host.launch("random.cu", k, kind == RandomKind.UNIFORM ? n / 4 + 2 : n / 2 + 2, a);
    }

    void unary(UnaryOp op, Strided x, Strided out) {
        String t = computeSfx(x.dtype(), "unary " + op);
        op.requireDefinedFor(x.dtype()); // the same set and error as the CPU backend; never a float function through double
        requireSameDtype(x, out, "unary " + op);
        requireContiguous(out, "unary " + op);
        requireSameCount(x, out, "unary " + op);
        long n = out.numel();
        if (n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(n).i32(OpCodes.unary(op));
        if (x.isContiguous()) host.launch("elementwise.cu", "unary_contig_" + t, n, a);
        else host.launch("elementwise.cu", "unary_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides())));
    }

    void binary(BinaryOp op, Strided x, Strided y, Strided out) {
        String t = computeSfx(out.dtype(), "binary " + op);
        requireSameDtype(x, out, "binary " + op);
        requireSameDtype(y, out, "binary " + op);
        requireContiguous(out, "binary " + op);
        requireSameShape(x, out, "binary " + op);
        requireSameShape(y, out, "binary " + op);
        long n = out.numel();
        if (n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(out)).i64(n).i32(OpCodes.binary(op));
        if (x.isContiguous() && y.isContiguous()) host.launch("elementwise.cu", "binary_contig_" + t, n, a);
        else host.launch("elementwise.cu", "binary_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides(), y.strides())));
    }

    void binaryScalar(BinaryOp op, Strided x, double scalar, boolean scalarFirst, Strided out) {
        String t = computeSfx(out.dtype(), "binaryScalar " + op);
        requireSameDtype(x, out, "binaryScalar " + op);
        requireContiguous(out, "binaryScalar " + op);
        requireSameCount(x, out, "binaryScalar " + op);
        long n = out.numel();
        if (n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(x)).ptr(ptr(out)).i64(n).i32(OpCodes.binary(op)).f64(scalar).i32(scalarFirst ? 1 : 0);
        if (x.isContiguous()) host.launch("elementwise.cu", "binary_scalar_contig_" + t, n, a);
        else host.launch("elementwise.cu", "binary_scalar_strided_" + t, n, a.nd(NdArgs.of(out.shape(), x.strides())));
    }

    void where(Strided cond, Strided x, Strided y, Strided out) {
        String t = computeSfx(out.dtype(), "where");
        String c = computeSfx(cond.dtype(), "where (condition)");
        requireSameDtype(x, out, "where");
        requireSameDtype(y, out, "where");
        requireContiguous(out, "where");
        requireSameShape(cond, out, "where");
        requireSameShape(x, out, "where");
        requireSameShape(y, out, "where");
        long n = out.numel();
        if (n == 0) return;
        host.bind();
        LaunchArgs a = LaunchArgs.get().ptr(ptr(cond)).ptr(ptr(x)).ptr(ptr(y)).ptr(ptr(out)).i64(n)
                .nd(NdArgs.of(out.shape(), cond.strides(), x.strides(), y.strides()));
        host.launch("elementwise.cu", "where_" + c + "_" + t, n, a);
    }
}
