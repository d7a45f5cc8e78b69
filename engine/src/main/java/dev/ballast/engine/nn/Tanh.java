package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** Elementwise hyperbolic tangent, as torch.nn.Tanh. No parameters. */
public final class Tanh extends Module {
    @Override
    protected Tensor forward(Tensor x) { return x.tanh(); }
}
