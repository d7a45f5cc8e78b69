package dev.ballast.stability.scale;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;

/**
 * A loss scale and its counters in device memory, moved by a {@link LossScalePolicy} from each step's
 * found-non-finite flag without any host read. Holds: the scale (0-d F32), the growth counter (0-d F64: clean steps
 * counted toward growth; -1 right after an overflow under the DeepSpeed rule, which is what makes it grow one step
 * later), the remaining hysteresis (0-d F32) and the number of skipped steps (0-d F64).
 */
public final class LossScaleState implements AutoCloseable {
    private final LossScalePolicy policy;
    private final Tensor scale, growthCounter, hysteresisLeft, skipped;

    public LossScaleState(Device device, LossScalePolicy policy) {
        this.policy = policy;
        this.scale = Scope.detachFromScopes(Tensor.scalar(device, DType.F32, policy.initScale()));
        // DeepSpeed counts as if an overflow happened just before the first step
        this.growthCounter = Scope.detachFromScopes(Tensor.scalar(device, DType.F64, afterOverflow(policy)));
        this.hysteresisLeft = Scope.detachFromScopes(Tensor.scalar(device, DType.F32, policy.hysteresis()));
        this.skipped = Scope.detachFromScopes(Tensor.scalar(device, DType.F64, 0));
    }

    public LossScalePolicy policy() { return policy; }

    /** The current scale, 0-d F32 on the device (live: updated in place). */
    public Tensor scale() { return scale; }

    /** Steps skipped so far (their gradients held NaN or infinity), 0-d F64 on the device (live). */
    public Tensor skippedSteps() { return skipped; }

    /** The growth counter, 0-d F64 on the device (live). */
    public Tensor growthCounter() { return growthCounter; }

    /** The remaining overflow tolerance, 0-d F32 on the device (live). */
    public Tensor hysteresisLeft() { return hysteresisLeft; }

    /**
     * Applies one step's outcome: {@code foundNonFinite} is a one-element device tensor, non-zero when the step's
     * gradients held NaN or infinity (that step is skipped by the optimizer). Everything stays on the device.
     */
    public void update(Tensor foundNonFinite) {
        if (foundNonFinite.numel() != 1)
            throw new IllegalArgumentException("update: the non-finite flag must have one element, got " + foundNonFinite.numel());
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor bad = foundNonFinite.reshape().to(DType.F32).ne(0);
            skipped.copyFrom(skipped.add(bad.to(DType.F64)));
            if (!policy.dynamic()) return;
            Device d = scale.device();
            Tensor fullHysteresis = Tensor.scalar(d, DType.F32, policy.hysteresis());
            // overflow: back off when the tolerance is used up, else use one unit of it
            Tensor backOffNow = hysteresisLeft.le(1);
            Tensor backedOff = scale.mul(policy.backoffFactor()).maximum(policy.minScale());
            Tensor scaleOnBad = Tensor.where(backOffNow, backedOff, scale);
            Tensor leftOnBad = Tensor.where(backOffNow, hysteresisLeft, hysteresisLeft.sub(1));
            // clean step: count it; grow (only to a finite value) when the run reaches the interval
            Tensor counted = growthCounter.add(1);
            Tensor grow = counted.ge(policy.growthInterval());
            Tensor grown = scale.mul(policy.growthFactor());
            Tensor scaleOnGood = Tensor.where(grow.mul(grown.isFinite()), grown, scale);
            Tensor counterOnGood = Tensor.where(grow, Tensor.scalar(d, DType.F64, 0), counted);
            Tensor leftOnGood = policy.consecutiveHysteresis() ? fullHysteresis : Tensor.where(grow, fullHysteresis, hysteresisLeft);
            scale.copyFrom(Tensor.where(bad, scaleOnBad, scaleOnGood));
            growthCounter.copyFrom(Tensor.where(bad, Tensor.scalar(d, DType.F64, afterOverflow(policy)), counterOnGood));
            hysteresisLeft.copyFrom(Tensor.where(bad, leftOnBad, leftOnGood));
        }
    }

    /** The growth counter's value after an overflow: DeepSpeed's rule starts one step behind PyTorch's. */
    private static double afterOverflow(LossScalePolicy p) {
        return p.rule() == LossScalePolicy.GrowthRule.DEEPSPEED ? -1 : 0;
    }

    @Override
    public void close() {
        scale.close();
        growthCounter.close();
        hysteresisLeft.close();
        skipped.close();
    }
}
