package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.LayerNormRows;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.View;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.FusedNorms;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;
import java.util.Arrays;

/** The CPU backend's {@link FusedNorms}: the {@link LayerNormRows} kernels on its pool. */
public final class CpuFusedNorms implements FusedNorms {
    private final Parallel par;

    public CpuFusedNorms(Parallel par) { this.par = par; }

    /** The operand as a kernel view (null stays null): contiguous, on the CPU, F32 or F64. */
    private static View view(Strided s, String what) {
        if (s == null) return null;
        if (s.dtype() != DType.F32 && s.dtype() != DType.F64)
            throw new IllegalArgumentException("layer norm: " + what + " must be f32 or f64, got " + s.dtype());
        if (!s.isContiguous())
            throw new IllegalArgumentException("layer norm: " + what + " must be contiguous, got strides " + Arrays.toString(s.strides())
                    + " for shape " + Arrays.toString(s.shape()));
        if (!(s.storage() instanceof CpuStorage c))
            throw new IllegalArgumentException("layer norm: " + what + " belongs to the " + s.storage().backend().name() + " backend, not the CPU");
        return new View(c.segment(), s.dtype(), s.offset(), s.shape(), s.strides());
    }

    private static void sameDtype(Strided x, Strided... others) {
        for (Strided o : others)
            if (o != null && o.dtype() != x.dtype())
                throw new IllegalArgumentException("layer norm: operands must share x's dtype " + x.dtype() + ", got " + o.dtype());
    }

    @Override public void layerNorm(Strided x, Strided weight, Strided bias, long rows, long n, double eps, Strided y, Strided mean, Strided rstd) {
        sameDtype(x, weight, bias, y);
        try {
            LayerNormRows.forward(par, view(x, "x"), view(weight, "weight"), view(bias, "bias"), rows, n, eps, view(y, "y"),
                    view(mean, "mean"), view(rstd, "rstd"));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(weight);
            Reference.reachabilityFence(bias);
            Reference.reachabilityFence(y);
            Reference.reachabilityFence(mean);
            Reference.reachabilityFence(rstd);
        }
    }

    @Override public void layerNormBackward(Strided x, Strided weight, Strided mean, Strided rstd, Strided g, long rows, long n,
                                            Strided dx, Strided dweight, Strided dbias) {
        sameDtype(x, weight, g, dx, dweight, dbias);
        try {
            LayerNormRows.backward(par, view(x, "x"), view(weight, "weight"), view(mean, "mean"), view(rstd, "rstd"), view(g, "g"),
                    rows, n, view(dx, "dx"), view(dweight, "dweight"), view(dbias, "dbias"));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(weight);
            Reference.reachabilityFence(mean);
            Reference.reachabilityFence(rstd);
            Reference.reachabilityFence(g);
            Reference.reachabilityFence(dx);
            Reference.reachabilityFence(dweight);
            Reference.reachabilityFence(dbias);
        }
    }
}
