package dev.ballast.engine.backend;

import java.util.List;

/**
 * Fused kernels over many tensors at once: the one-pass gradient norm with its non-finite count, the clip
 * coefficient computed on the device, and optimizer updates that apply that coefficient and honour a skip
 * flag inside their own pass. Scalars that steer a step (coefficient, skip flag, learning-rate factor, step counter) are read from
 * device memory, so a step needs no host round-trip. A backend that lacks this capability still works: the
 * stability layer composes the same semantics from primitive ops, with more passes over memory.
 *
 * <p>All tensor lists hold contiguous F32 views unless a method says otherwise; lists passed together have
 * equal lengths and matching element counts.
 */
public interface MultiTensorOps {

    /**
     * One read pass over {@code tensors} (F32, F16 or BF16, any sizes, empty allowed). For each tensor the
     * accumulator of {@code kind} is formed in at least F32 per block and combined exactly (F64) in a fixed order,
     * so the result does not depend on thread or block counts. Writes {@code total} (F64, 2 elements): the combined
     * accumulator over all tensors and the count of non-finite values; and, when {@code perTensor} is not null,
     * each tensor's own accumulator (F64, one per tensor).
     */
    void multiTensorNorm(List<Strided> tensors, NormKind kind, double p, Strided perTensor, Strided total);

    /**
     * Gradient health statistics in one read pass over {@code grads} (F32, F16 or BF16, contiguous) and, when
     * {@code weights} is not null, the matching weights (same count and element counts, F32/F16/BF16). Writes, per
     * tensor {@code i}, row {@code i} of {@code stats} (F64, {@code n * GradStatsLayout.COLUMNS}, columns as
     * {@link GradStatsLayout} names them) and row {@code i} of {@code histogram} (I64, {@code n * GradStatsLayout.BINS},
     * the log2-magnitude counts of the gradient's values). Sums are formed in at least F32 per chunk and combined in
     * F64; counts and the maximum are exact. Non-finite values are counted, not summed, so the norms stay readable
     * when a few values blew up. Nothing is read back to the host.
     */
    void multiTensorStats(List<Strided> grads, List<Strided> weights, Strided stats, Strided histogram);

    /**
     * The finish step on the device: from {@code total} (as written by {@link #multiTensorNorm}) writes
     * {@code out} (F32, 3 elements): the total norm, the clip coefficient {@code min(maxNorm / (norm + 1e-6), 1)}
     * (exactly PyTorch's clip_grad_norm_), and 1 if any value was non-finite else 0.
     */
    void clipCoefficient(Strided total, NormKind kind, double p, double maxNorm, Strided out);

    /** {@code x *= coefficient} in place for every tensor; {@code coefficient} is a one-element F32 view. */
    void multiTensorScale(List<Strided> tensors, Strided coefficient);

    /**
     * One fused AdamW (or Adam, when {@code h.decoupled()} is false: L2 added to the gradient) step over all
     * parameters. The gradient used is {@code grad * coefficient} (coefficient may be null: 1). When
     * {@code skip} (one element, any float dtype; null: never) is non-zero, nothing is written: weights,
     * moments and the step counter stay bit-identical. Otherwise {@code step} (one F64 element) is incremented
     * on the device first and used for bias correction and for the learning rate from {@code schedule}.
     *
     * <p>{@code lrFactor} (one element, read on the device like the coefficient; null: 1) multiplies the scheduled
     * learning rate of this step, in F64 before the rate is rounded to F32, so the step is bit for bit the one an
     * optimizer built with {@code lr * factor} takes under a constant schedule, and a factor of 1 changes no bit: the
     * learning rate as torch has it when a group's lr is lowered, so AdamW's decoupled decay is {@code lr*f*wd} too,
     * and the moments do not see the factor.
     *
     * <p>{@code lowPrecisionCopies} (F16 or BF16, one per parameter, may be null) are refreshed from the new weights in
     * the same pass: the working copies mixed-precision forward passes read. Returns whether the copies were written
     * (false: the caller casts them itself, an extra pass).
     */
    boolean fusedAdam(List<Strided> params, List<Strided> grads, List<Strided> expAvg, List<Strided> expAvgSq,
                      AdamParams h, LrSchedule schedule, Strided coefficient, Strided skip, Strided step,
                      Strided lrFactor, List<Strided> lowPrecisionCopies);

    /**
     * The SGD counterpart of {@link #fusedAdam}; {@code momentumBuffers} is null when momentum is 0. The learning-rate
     * factor scales the step {@code lr * d} only: the momentum buffer is what a step with the full lr leaves (torch's
     * SGD keeps lr out of its buffer).
     */
    boolean fusedSgd(List<Strided> params, List<Strided> grads, List<Strided> momentumBuffers, SgdParams h,
                     LrSchedule schedule, Strided coefficient, Strided skip, Strided step, Strided lrFactor,
                     List<Strided> lowPrecisionCopies);

    /** {@link #fusedAdam} with no learning-rate factor and no working copies. */
    default void fusedAdam(List<Strided> params, List<Strided> grads, List<Strided> expAvg, List<Strided> expAvgSq,
                           AdamParams h, LrSchedule schedule, Strided coefficient, Strided skip, Strided step) {
        fusedAdam(params, grads, expAvg, expAvgSq, h, schedule, coefficient, skip, step, null, null);
    }

    /** {@link #fusedSgd} with no learning-rate factor and no working copies. */
    default void fusedSgd(List<Strided> params, List<Strided> grads, List<Strided> momentumBuffers, SgdParams h,
                          LrSchedule schedule, Strided coefficient, Strided skip, Strided step) {
        fusedSgd(params, grads, momentumBuffers, h, schedule, coefficient, skip, step, null, null);
    }

    /** {@link #fusedAdam} with no learning-rate factor. */
    default boolean fusedAdam(List<Strided> params, List<Strided> grads, List<Strided> expAvg, List<Strided> expAvgSq,
                              AdamParams h, LrSchedule schedule, Strided coefficient, Strided skip, Strided step,
                              List<Strided> lowPrecisionCopies) {
        return fusedAdam(params, grads, expAvg, expAvgSq, h, schedule, coefficient, skip, step, null, lowPrecisionCopies);
    }

    /** {@link #fusedSgd} with no learning-rate factor. */
    default boolean fusedSgd(List<Strided> params, List<Strided> grads, List<Strided> momentumBuffers, SgdParams h,
                             LrSchedule schedule, Strided coefficient, Strided skip, Strided step, List<Strided> lowPrecisionCopies) {
        return fusedSgd(params, grads, momentumBuffers, h, schedule, coefficient, skip, step, null, lowPrecisionCopies);
    }

    /** Adam/AdamW hyperparameters as torch.optim.Adam/AdamW take them (non-amsgrad). */
    record AdamParams(double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {}

    /** SGD hyperparameters as torch.optim.SGD takes them. */
    record SgdParams(double momentum, double dampening, double weightDecay, boolean nesterov) {}
}
