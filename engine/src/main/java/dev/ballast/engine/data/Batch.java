package dev.ballast.engine.data;

import dev.ballast.engine.Tensor;

/**
 * One mini-batch: {@code inputs} and {@code targets} with the batch on the first axis, and where it came from
 * ({@code epoch}, {@code index} of the batch within the epoch). Its tensors belong to the scope that was open
 * when it was made.
 */
public record Batch(Tensor inputs, Tensor targets, long epoch, long index) {
    /** Number of examples in the batch. */
    public long size() { return inputs.size(0); }
}
