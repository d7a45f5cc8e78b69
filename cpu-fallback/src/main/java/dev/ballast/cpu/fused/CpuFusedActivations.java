package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.Gelu;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.View;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;

/** The CPU backend's {@link FusedActivations}: the {@link Gelu} kernels on its pool. */
public final class CpuFusedActivations implements FusedActivations {
    private final Parallel par;

    public CpuFusedActivations(Parallel par) { this.par = par; }

    private static View view(Strided s) {
        if (!s.dtype().isFloating()) throw new IllegalArgumentException("fused activations take floating operands, got " + s.dtype());
        if (!(s.storage() instanceof CpuStorage c))
            throw new IllegalArgumentException("storage belongs to the " + s.storage().backend().name() + " backend, not the CPU");
        return new View(c.segment(), s.dtype(), s.offset(), s.shape(), s.strides());
    }

    @Override public void geluBackward(Strided x, Strided g, Strided out) {
        try {
            Gelu.backward(par, view(x), view(g), view(out));
        } finally {
            Reference.reachabilityFence(x);
            Reference.reachabilityFence(g);
            Reference.reachabilityFence(out);
        }
    }
}
