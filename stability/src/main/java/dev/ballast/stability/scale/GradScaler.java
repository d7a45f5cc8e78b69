package dev.ballast.stability.scale;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.clip.GradNorm;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dynamic loss scaling with torch.amp.GradScaler's semantics: multiply the loss by {@link #scale()} before
 * backward; after backward, a step whose gradients hold a non-finite value is skipped and the scale multiplied
 * by {@code backoffFactor}; after {@code growthInterval} finite steps in a row the scale is multiplied by
 * {@code growthFactor}. Defaults: 2^16, 2, 0.5, 2000. The scale and the run of finite steps live in device
 * memory and are updated there ({@link #update(Tensor)} takes the non-finite flag as a device tensor), so
 * scaling adds no host sync to a step.
 *
 * <p>Two ways to use it. In a chain: {@code GradientChain.of(Link.unscale(scaler), ..., Link.apply(opt))}. Or as a
 * PyTorch user writes it, with no chain:
 * <pre>{@code
 * scaler.scale(loss).backward();
 * scaler.unscale(opt);                     // optional, as scaler.unscale_(opt): e.g. to clip unscaled gradients
 * scaler.step(opt);                        // unscales if not done yet, skips the step on overflow
 * scaler.update();                         // backs off or grows the scale from the overflow flags recorded
 * }</pre>
 * Every flag stays on the device: none of these calls waits for the device.
 */
public final class GradScaler implements AutoCloseable {
    private final LossScaleState state; // scale and counters on the device, moved by a LossScalePolicy
    private final Tensor scale;         // 0-d F32, the state's
    private final Tensor goodSteps;     // the state's growth counter
    private final Map<Optimizer, Tracked> tracked = new IdentityHashMap<>(); // since the last update()

    /** What {@link #unscale(Optimizer)} and {@link #step(Optimizer)} recorded for one optimizer. */
    private static final class Tracked {
        Tensor foundInf; // 0-d F32, detached from scopes, owned here
        boolean unscaled, stepped;
    }

    public GradScaler(Device device) { this(device, 65536.0, 2.0, 0.5, 2000); }

    public GradScaler(Device device, double initScale, double growthFactor, double backoffFactor, long growthInterval) {
        this(device, LossScalePolicy.pytorch(initScale, growthFactor, backoffFactor, growthInterval));
    }

    /**
     * A scaler following {@code policy}: PyTorch's rule (the default; the scale grows only to a finite value) or
     * DeepSpeed's, hysteresis, a minimum scale, a static scale (see {@link LossScalePolicy}).
     */
    public GradScaler(Device device, LossScalePolicy policy) {
        this.state = new LossScaleState(device, policy);
        this.scale = state.scale();
        this.goodSteps = state.growthCounter();
    }

    /** The rules this scaler follows. */
    public LossScalePolicy policy() { return state.policy(); }

    /** Steps skipped so far for non-finite gradients, a 0-d F64 device tensor (live). */
    public Tensor skippedSteps() { return state.skippedSteps(); }

    /** The current scale, a 0-d F32 device tensor (live: it changes on update). */
    public Tensor scale() { return scale; }

    /** {@code loss * scale}, differentiable, for the backward pass. */
    public Tensor scaleLoss(Tensor loss) { return loss.mul(scale.to(loss.dtype())); }

    /** {@code loss * scale}, differentiable: call {@code backward()} on it (torch's {@code scaler.scale(loss)}). */
    public Tensor scale(Tensor loss) { return scaleLoss(loss); }

    /**
     * Divides the gradients of {@code optimizer}'s parameters by the scale in place and records whether any of them
     * was NaN or infinite (torch's {@code scaler.unscale_(optimizer)}): one read pass and one scaling pass on the
     * device. At most once per optimizer between {@link #update()}s, and before {@link #step(Optimizer)}.
     */
    public void unscale(Optimizer optimizer) {
        Tracked t = tracked.computeIfAbsent(optimizer, o -> new Tracked());
        if (t.unscaled) throw new IllegalStateException("unscale(optimizer) was already called for this optimizer since the last update()");
        if (t.stepped) throw new IllegalStateException("unscale(optimizer) is called before step(optimizer), not after");
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            List<Tensor> grads = GradNorm.gradients(optimizer.params());
            Tensor flag = overflowFlag(grads);
            Tensor inv = inverseScale();
            for (Tensor grad : grads) grad.mulInPlace(inv.to(grad.dtype()));
            t.foundInf = Scope.detachFromScopes(flag.copy());
        }
        t.unscaled = true;
    }

    /**
     * Steps {@code optimizer} unless an overflow was found (torch's {@code scaler.step(optimizer)}): unscales first
     * when {@link #unscale(Optimizer)} was not called (then the division is folded into the optimizer's own pass,
     * after one read pass for the flag). The skip is decided on the device; nothing is read on the host.
     */
    public void step(Optimizer optimizer) {
        Tracked t = tracked.computeIfAbsent(optimizer, o -> new Tracked());
        if (t.stepped) throw new IllegalStateException("step(optimizer) was already called for this optimizer since the last update()");
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            if (t.unscaled) {
                optimizer.stepAsync(null, t.foundInf);
            } else {
                Tensor flag = overflowFlag(GradNorm.gradients(optimizer.params()));
                t.foundInf = Scope.detachFromScopes(flag.copy());
                optimizer.stepAsync(inverseScale(), t.foundInf);
            }
        }
        t.stepped = true;
    }

    /**
     * Updates the scale from the overflow flags recorded by {@link #unscale} and {@link #step} since the last call
     * (any overflow backs off), then forgets them (torch's {@code scaler.update()}).
     */
    public void update() {
        if (tracked.isEmpty()) throw new IllegalStateException("update(): no overflow checks were recorded; call step(optimizer) first");
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor any = null;
            for (Tracked t : tracked.values()) {
                if (t.foundInf == null) continue;
                any = any == null ? t.foundInf : any.maximum(t.foundInf);
            }
            if (any != null) update(any);
        }
        forget();
    }

    private Tensor overflowFlag(List<Tensor> grads) {
        Tensor stats = GradNorm.compute(scale.device(), grads, Double.POSITIVE_INFINITY, 2, null);
        return stats.narrow(0, GradNorm.NON_FINITE, 1).reshape();
    }

    private void forget() {
        for (Tracked t : tracked.values()) if (t.foundInf != null) t.foundInf.close();
        tracked.clear();
    }

    /**
     * The state to save with a checkpoint (live tensors, restored in place): {@code scale} and {@code growth_tracker}
     * (torch's state_dict names), {@code hysteresis_left} (overflows still tolerated before backing off) and
     * {@code skipped_steps} (overflow steps so far), so a resumed run moves its scale exactly as an uninterrupted one.
     */
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("scale", scale);
        m.put("growth_tracker", goodSteps);
        m.put("hysteresis_left", state.hysteresisLeft());
        m.put("skipped_steps", state.skippedSteps());
        return m;
    }

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
    public void update(Tensor foundNonFinite) { state.update(foundNonFinite); }

    @Override
    public void close() {
        forget();
        state.close();
    }
}
