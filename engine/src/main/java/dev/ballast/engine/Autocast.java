package dev.ballast.engine;

import java.util.Objects;

/**
 * Mixed precision on this thread, like {@code torch.autocast}: inside {@code try (var g = Autocast.enable(DType.F16))}
 * matrix products (matmul, linear layers, attention products, recurrent gates) take F16 or BF16 operands and
 * accumulate in F32 (their result is in the low precision), while reductions (sum, mean, variance, norms, so
 * normalization layers and losses), softmax and log-softmax, exp, log, rsqrt and reciprocal run on F32 inputs.
 * Everything else follows the usual type promotion (a half product plus an F32 bias is F32). Parameters stay F32
 * (master weights): a matmul operand that is a parameter is cast differentiably, so its gradient arrives in F32.
 * When the optimizer keeps low-precision working copies of its parameters ({@code Optimizer.keepWorkingCopies},
 * refreshed inside its fused update), modules take the copy through {@link #weight(Tensor)} instead of casting.
 *
 * <p>Backward is not autocast: each gradient takes the dtype of the tensor it belongs to, so the gradient of a
 * half product is rounded to half (where fp16 underflow happens, and what loss scaling is for).
 */
public final class Autocast {
    private static final ThreadLocal<DType[]> MODE = ThreadLocal.withInitial(() -> new DType[1]);

    private Autocast() {}

    /**
     * A scope in which matrix products run in {@code dtype} (F16 or BF16); F32 switches autocast off inside the
     * scope. Restores the previous mode on close.
     */
    public static Guard enable(DType dtype) {
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.F32 && !dtype.isHalf())
            throw new IllegalArgumentException("autocast: dtype must be f16, bf16 or f32 (off), got " + dtype.label());
        return set(dtype == DType.F32 ? null : dtype);
    }

    /** A scope with autocast off (backward uses it). */
    public static Guard disable() { return set(null); }

    /** The low-precision dtype of matrix products on this thread, or null when autocast is off. */
    public static DType dtype() { return MODE.get()[0]; }

    private static Guard set(DType d) {
        DType[] m = MODE.get();
        DType prev = m[0];
        m[0] = d;
        return () -> m[0] = prev;
    }

    /**
     * A weight about to be used in a matrix product: itself when autocast is off; else its low-precision working
     * copy when one is kept in the autocast dtype (no cast), else a cast. Gradients flow back to {@code w} in its dtype.
     */
    public static Tensor weight(Tensor w) {
        DType d = dtype();
        if (d == null || !w.dtype.isFloating() || w.dtype == DType.F64) return w;
        Tensor copy = currentCopy(w, d);
        if (copy == null) return w.to(d);
        Tensor alias = copy.detach();
        DType from = w.dtype;
        return Ops.record(alias, "to_" + d.label(), g -> new Tensor[]{g.to(from)}, w);
    }

    /**
     * {@code w}'s working copy in {@code d} when it is current, else null. A copy registered before the master last
     * changed in place (say, a loaded checkpoint) is stale: callers cast instead.
     */
    static Tensor currentCopy(Tensor w, DType d) {
        Tensor copy = w.workingCopy;
        if (copy == null || copy.dtype != d || copy.isClosed() || w.workingCopyVersion != w.version()) return null;
        return copy;
    }

    /**
     * Makes {@code copy} (same shape, F16 or BF16) the working copy {@link #weight} hands out for {@code master}, as
     * of the master's current version (an in-place change of the master after this makes {@link #weight} cast again
     * until the copy is registered anew); null detaches. The caller keeps it equal to the master (the optimizer does
     * so in its update pass).
     */
    public static void setWorkingCopy(Tensor master, Tensor copy) {
        if (copy != null && (!copy.dtype.isHalf() || !java.util.Arrays.equals(copy.shape, master.shape) || !copy.isContiguous()))
            throw new IllegalArgumentException("autocast: a working copy must be a contiguous f16/bf16 tensor of shape "
                    + Shape.str(master.shape) + ", got " + copy.dtype.label() + " " + Shape.str(copy.shape));
        master.workingCopy = copy;
        master.workingCopyVersion = master.version();
    }

    /** A matrix-product operand: cast to the autocast dtype when autocast is on and it is F32 or the other half type. */
    static Tensor operand(Tensor x) {
        DType d = dtype();
        if (d == null || x.dtype == d || !x.dtype.isFloating() || x.dtype == DType.F64) return x;
        return x.workingCopy != null ? weight(x) : x.to(d);
    }

    /** An input of an op that autocast runs in F32: half inputs are cast up when autocast is on. */
    static Tensor fp32(Tensor x) {
        return dtype() != null && x.dtype.isHalf() ? x.to(DType.F32) : x;
    }

    /** Restores the previous mode when closed. */
    @FunctionalInterface
    public interface Guard extends AutoCloseable {
        @Override void close();
    }
}
