package dev.ballast.stability.scale;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;

/**
 * Dynamic loss scaling with torch.amp.GradScaler's semantics: multiply the loss by {@link #scale()} before
 * backward; after backward, a step whose gradients hold a non-finite value is skipped and the scale multiplied
 * by {@code backoffFactor}; after {@code growthInterval} finite steps in a row the scale is multiplied by
 * {@code growthFactor}. Defaults: 2^16, 2, 0.5, 2000. The scale and the run of finite steps live in device
 * memory and are updated there ({@link #update(Tensor)} takes the non-finite flag as a device tensor), so
 * scaling adds no host sync to a step.
 */
public final class GradScaler implements AutoCloseable {
    private final double growthFactor, backoffFactor;
    private final long growthInterval;
    private final Tensor scale;     // 0-d F32
    private final Tensor goodSteps; // 0-d F32: finite steps since the last change

    public GradScaler(Device device) { this(device, 65536.0, 2.0, 0.5, 2000); }

    public GradScaler(Device device, double initScale, double growthFactor, double backoffFactor, long growthInterval) {
        if (!(initScale > 0) || Double.isInfinite(initScale)) throw new IllegalArgumentException("initScale must be finite and > 0, got " + initScale);
        if (!(growthFactor > 1)) throw new IllegalArgumentException("growthFactor must be > 1, got " + growthFactor);
        if (!(backoffFactor > 0 && backoffFactor < 1)) throw new IllegalArgumentException("backoffFactor must be in (0, 1), got " + backoffFactor);
        if (growthInterval < 1) throw new IllegalArgumentException("growthInterval must be >= 1, got " + growthInterval);
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
        this.scale = Scope.detachFromScopes(Tensor.scalar(device, DType.F32, initScale));
        this.goodSteps = Scope.detachFromScopes(Tensor.scalar(device, DType.F32, 0));
    }

    /** The current scale, a 0-d F32 device tensor (live: it changes on update). */
    public Tensor scale() { return scale; }

    /** {@code loss * scale}, differentiable, for the backward pass. */
    public Tensor scaleLoss(Tensor loss) { return loss.mul(scale.to(loss.dtype())); }

    /** {@code 1 / scale} as a new 0-d F32 device tensor: the factor that unscales gradients. */
    public Tensor inverseScale() {
        try (GradMode.Guard g = GradMode.noGrad()) {
            return scale.reciprocal();
        }
    }

    /**
     * Updates the scale from {@code foundNonFinite} (a one-element device tensor, non-zero when the step's
     * gradients held NaN or infinity), all on the device.
     */
    public void update(Tensor foundNonFinite) {
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor bad = foundNonFinite.reshape().to(DType.F32).ne(0);
            Tensor good = goodSteps.add(1);
            Tensor grow = good.ge(growthInterval);
            Tensor finiteScale = Tensor.where(grow, scale.mul(growthFactor), scale);
            Tensor newScale = Tensor.where(bad, scale.mul(backoffFactor), finiteScale);
            Tensor newGood = Tensor.where(bad, Tensor.zeros(scale.device(), DType.F32), Tensor.where(grow, Tensor.zeros(scale.device(), DType.F32), good));
            scale.copyFrom(newScale);
            goodSteps.copyFrom(newGood);
        }
    }

    @Override
    public void close() {
        scale.close();
        goodSteps.close();
    }
}
