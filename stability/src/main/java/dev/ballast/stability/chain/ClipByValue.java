package dev.ballast.stability.chain;

import dev.ballast.engine.Tensor;

/** {@link Link#clipByValue}: clamps every element to [-value, value] as the gradients stand here (NaN stays NaN). */
public record ClipByValue(double value) implements Link {
    public ClipByValue {
        if (!(value >= 0)) throw new IllegalArgumentException("clipByValue: value must be >= 0, got " + value);
    }

    @Override public void update(Gradients g, LinkState state) {
        for (Tensor t : g.tensors()) t.copyFrom(t.clamp(-value, value));
    }
}
