package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.AttentionHeads;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.View;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedAttention;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;
import java.util.Arrays;

/** The CPU backend's {@link FusedAttention}: the {@link AttentionHeads} kernels on its pool, one (batch, head) pair per item. */
public final class CpuFusedAttention implements FusedAttention {
    private final Parallel par;

    public CpuFusedAttention(Parallel par) { this.par = par; }

    /** The operand as a kernel view: contiguous, on the CPU, of {@code dtype} (F32 or F64), of exactly {@code shape}. */
    private static View view(Strided s, String what, DType dtype, long... shape) {
        if (s.dtype() != DType.F32 && s.dtype() != DType.F64)
            throw new IllegalArgumentException("attention: " + what + " must be f32 or f64, got " + s.dtype());
        if (s.dtype() != dtype)
            throw new IllegalArgumentException("attention: " + what + " must share qkv's dtype " + dtype + ", got " + s.dtype());
        if (!Arrays.equals(s.shape(), shape))
            throw new IllegalArgumentException("attention: " + what + " must have shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(s.shape()));
        if (!s.isContiguous())
            throw new IllegalArgumentException("attention: " + what + " must be contiguous, got strides " + Arrays.toString(s.strides())
                    + " for shape " + Arrays.toString(s.shape()));
        if (!(s.storage() instanceof CpuStorage c))
            throw new IllegalArgumentException("attention: " + what + " belongs to the " + s.storage().backend().name() + " backend, not the CPU");
        return new View(c.segment(), s.dtype(), s.offset(), s.shape(), s.strides());
    }

    private static void checkSizes(long batch, long time, int heads, long headDim, double scale) {
        if (batch < 1 || time < 1 || heads < 1 || headDim < 1 || !(scale > 0) || Double.isInfinite(scale))
            throw new IllegalArgumentException("attention: batch, time, heads and headDim must be >= 1 and scale positive and finite, got batch="
                    + batch + " time=" + time + " heads=" + heads + " headDim=" + headDim + " scale=" + scale);
        if (batch * heads > Integer.MAX_VALUE || time * time > Integer.MAX_VALUE || 3L * heads * headDim > Integer.MAX_VALUE)
            throw new IllegalArgumentException("attention: sizes too large for one call (batch*heads, time^2 and 3*heads*headDim must fit an int)");
    }

    @Override public void attention(Strided qkv, long batch, long time, int heads, long headDim, boolean causal, double scale,
                                    Strided out, Strided probs) {
        checkSizes(batch, time, heads, headDim, scale);
        DType t = qkv.dtype();
        long e = heads * headDim;
        try {
            AttentionHeads.forward(par, view(qkv, "qkv", t, batch, time, 3 * e), (int) batch, (int) time, heads, (int) headDim, causal, scale,
                    view(out, "out", t, batch, time, e), view(probs, "probs", t, batch, heads, time, time));
        } finally {
            Reference.reachabilityFence(qkv);
            Reference.reachabilityFence(out);
            Reference.reachabilityFence(probs);
        }
    }

    @Override public void attentionBackward(Strided qkv, Strided probs, Strided gOut, long batch, long time, int heads, long headDim,
                                            boolean causal, double scale, Strided scratch, Strided dqkv) {
        checkSizes(batch, time, heads, headDim, scale);
        DType t = qkv.dtype();
        long e = heads * headDim;
        try {
            AttentionHeads.backward(par, view(qkv, "qkv", t, batch, time, 3 * e), view(probs, "probs", t, batch, heads, time, time),
                    view(gOut, "gOut", t, batch, time, e), (int) batch, (int) time, heads, (int) headDim, causal, scale,
                    view(scratch, "scratch", t, batch, heads, time, time), view(dqkv, "dqkv", t, batch, time, 3 * e));
        } finally {
            Reference.reachabilityFence(qkv);
            Reference.reachabilityFence(probs);
            Reference.reachabilityFence(gOut);
            Reference.reachabilityFence(scratch);
            Reference.reachabilityFence(dqkv);
        }
    }
}
