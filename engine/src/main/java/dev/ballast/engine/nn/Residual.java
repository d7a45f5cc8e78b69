package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;

/** {@code x + inner(x)}: a skip connection around one module (registered as "inner"); shapes must agree. */
public final class Residual extends Module {
    private final Module inner;

    public Residual(Module inner) { this.inner = registerModule("inner", inner); }

    public Module inner() { return inner; }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor y = inner.call(x);
        if (!java.util.Arrays.equals(x.shape(), y.shape()))
            throw new IllegalArgumentException("Residual at '" + path() + "': inner module changed the shape from "
                    + java.util.Arrays.toString(x.shape()) + " to " + java.util.Arrays.toString(y.shape()));
        return x.add(y);
    }
}
