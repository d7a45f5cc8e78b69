package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;

/** {@link Link#scaleBy}: a plain multiplication of every gradient by a constant, kept pending like any factor. */
public record ScaleBy(double factor) implements Link {
    public ScaleBy {
        if (!Double.isFinite(factor)) throw new IllegalArgumentException("scaleBy: factor must be finite, got " + factor);
    }

    @Override public void update(Gradients g, LinkState state) {
        g.scale(Tensor.scalar(g.device(), DType.F32, factor));
    }
}
