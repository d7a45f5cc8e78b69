package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** Elementwise logistic function, as torch.nn.Sigmoid. No parameters. */
public final class Sigmoid extends Module {
    @Override
    protected Tensor forward(Tensor x) { return x.sigmoid(); }
}
