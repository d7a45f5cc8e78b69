package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** The exact (erf) GELU {@code x * Phi(x)}, as torch.nn.GELU(). No parameters. */
public final class GELU extends Module {
    @Override
    protected Tensor forward(Tensor x) { return x.gelu(); }
}
