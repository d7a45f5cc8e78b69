package dev.ballast.cpu.fused;

import dev.ballast.cpu.CpuStorage;
import dev.ballast.cpu.kernel.ActivationGrads;
import dev.ballast.cpu.kernel.Gelu;
import dev.ballast.cpu.kernel.Parallel;
import dev.ballast.cpu.kernel.Softmax;
import dev.ballast.cpu.kernel.View;
import dev.ballast.engine.backend.FusedActivations;
import dev.ballast.engine.backend.Strided;
import java.lang.ref.Reference;

/**
 * The CPU backend's {@link FusedActivations}: the {@link Gelu}, {@link Softmax} and {@link ActivationGrads} (ReLU, tanh)
 * gradient kernels on its pool.
 */
public final class CpuFusedActivations implements FusedActivations {
    private final Parallel par;

    public CpuFusedActivations(Parallel par) { this.par = par; }

    private static View view(Strided s) {
        if (!s.dtype().isFloating()) throw new IllegalArgumentException("fused activations take floating operands, got " + s.dtype());
        if (!(s.storage() instanceof CpuStorage c))
            throw new IllegalArgumentException("storage belongs to the " + s.storage().backend().name() + " backend, not the CPU");
        return new View(c.segment(), s.dtype(), s.offset(), s.shape(), s.strides());
    }

    @Override public void geluBackward(Strided x, Strided g, Strided out) { gradient(Gelu::backward, x, g, out); }

    @Override public void reluBackward(Strided x, Strided g, Strided out) { gradient(ActivationGrads::reluBackward, x, g, out); }

    @Override public void tanhBackward(Strided y, Strided g, Strided out) { gradient(ActivationGrads::tanhBackward, y, g, out); }

    /** An elementwise gradient kernel {@code out = f'(input) * g} over views of the three operands. */
    private interface GradientKernel { void run(Parallel par, View input, View g, View out); }

    /** Runs {@code kernel} on the pool, keeping the operands' storages reachable (so not freed) until it returns. */
    private void gradient(GradientKernel kernel, Strided input, Strided g, Strided out) {
        try {
            kernel.run(par, view(input), view(g), view(out));
        } finally {
            Reference.reachabilityFence(input);
            Reference.reachabilityFence(g);
            Reference.reachabilityFence(out);
        }
    }

    @Override public void softmaxBackward(Strided y, Strided g, long rows, long n, boolean log, Strided out) {
        for (Strided s : new Strided[] {y, g, out})
            if (!s.isContiguous()) throw new IllegalArgumentException("softmax backward takes contiguous operands, got strides "
                    + java.util.Arrays.toString(s.strides()) + " for shape " + java.util.Arrays.toString(s.shape()));
        try {
            Softmax.backward(par, view(y), view(g), rows, n, log, view(out));
        } finally {
            Reference.reachabilityFence(y);
            Reference.reachabilityFence(g);
            Reference.reachabilityFence(out);
        }
    }
}
