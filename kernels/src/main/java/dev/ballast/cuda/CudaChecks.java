package dev.ballast.cuda;

import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Strided;
import java.util.Arrays;

/** Operand checks shared by the CUDA primitives; each failure says which op, what was wrong and what is allowed. */
final class CudaChecks {
    private CudaChecks() {}

    /** A dtype's kernel-name suffix ({@code f32}, {@code bf16}, ...). */
    static String sfx(DType t) { return t.label(); }

    /** The suffix of a dtype the elementwise, reduction and index kernels compute in; half types must be cast first. */
    static String computeSfx(DType t, String what) {
        return switch (t) {
            case F32, F64, I32, I64 -> t.label();
            case F16, BF16 -> throw new IllegalArgumentException("cuda " + what + ": " + t + " operands are not computed directly"
                    + " (supportsHalfCompute() is false); cast to F32 first. Allowed: F32, F64, I32, I64");
        };
    }

    static void requireContiguous(Strided s, String what) {
        if (!s.isContiguous()) throw new IllegalArgumentException("cuda " + what + ": operand must be contiguous, got " + s);
    }

    static void requireSameDtype(Strided a, Strided b, String what) {
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException("cuda " + what + ": dtypes differ, " + a.dtype() + " and " + b.dtype());
    }

    static void requireSameCount(Strided a, Strided b, String what) {
        if (a.numel() != b.numel())
            throw new IllegalArgumentException("cuda " + what + ": shapes " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " differ in size");
    }

    static void requireSameShape(Strided a, Strided b, String what) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException("cuda " + what + ": shape " + Arrays.toString(a.shape()) + " is not out's shape " + Arrays.toString(b.shape()));
    }
}
