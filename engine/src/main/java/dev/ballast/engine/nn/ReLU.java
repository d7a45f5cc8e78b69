package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** max(x, 0), as torch.nn.ReLU. No parameters. */
public final class ReLU extends Module {
    @Override
    protected Tensor forward(Tensor x) { return x.relu(); }
}
