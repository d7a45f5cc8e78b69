package dev.ballast.engine.data;

import dev.ballast.engine.Tensor;
import java.util.Arrays;

/**
 * A supervised dataset held as two tensors whose first axis indexes examples: {@code inputs [n, ...]} and
 * {@code targets [n, ...]}. The dataset owns them: {@link #close()} frees both. Make it outside any
 * {@link dev.ballast.engine.Scope} (or {@link dev.ballast.engine.Scope#keep keep} it) when it must outlive one.
 */
public record Dataset(Tensor inputs, Tensor targets) implements AutoCloseable {
    public Dataset {
        if (inputs.rank() == 0 || targets.rank() == 0)
            throw new IllegalArgumentException("dataset tensors need a first (example) axis, got inputs "
                    + Arrays.toString(inputs.shape()) + " and targets " + Arrays.toString(targets.shape()));
        if (inputs.size(0) != targets.size(0))
            throw new IllegalArgumentException("dataset inputs have " + inputs.size(0) + " examples but targets have "
                    + targets.size(0) + " (shapes " + Arrays.toString(inputs.shape()) + " and " + Arrays.toString(targets.shape()) + ")");
        if (inputs.device().backend() != targets.device().backend())
            throw new IllegalArgumentException("dataset inputs are on " + inputs.device().name() + " but targets on " + targets.device().name());
    }

    /** Number of examples. */
    public long size() { return inputs.size(0); }

    @Override
    public void close() {
        inputs.close();
        targets.close();
    }
}
