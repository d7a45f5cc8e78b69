package dev.ballast.stability.clip;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ZClip (Kumar et al. 2025, "ZClip: Adaptive Spike Mitigation for LLM Pre-Training"): an exponential moving average
 * of the gradient norm's mean and variance; a norm whose z-score {@code (g - mean) / std} passes {@code zThreshold}
 * is clipped to {@code mean + zThreshold^2 / z * std} (the paper's reciprocal rule), and the EMA is updated with the
 * norm after clipping. The first {@code warmup} steps only collect mean and variance. Everything after the norm pass
 * runs on the device (no host sync): the state is three device scalars, saved and restored with
 * {@link #stateDict()} / {@link #loadStateDict(Map)}.
 */
public final class ZClip implements AutoCloseable {
    private final double zThreshold, alpha;
    private final long warmup;
    private final Device device;
    private Tensor mean, var, sum;
    private long seen;

    /** The paper's defaults: alpha 0.97, warm-up 25 steps. */
    public ZClip(Device device, double zThreshold) { this(device, zThreshold, 0.97, 25); }

    public ZClip(Device device, double zThreshold, double alpha, long warmup) {
        if (!(zThreshold > 0)) throw new IllegalArgumentException("zclip: the z threshold must be > 0, got " + zThreshold);
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("zclip: alpha must be in (0, 1), got " + alpha);
        if (warmup < 2) throw new IllegalArgumentException("zclip: warmup must be >= 2 steps, got " + warmup);
        this.zThreshold = zThreshold;
        this.alpha = alpha;
        this.warmup = warmup;
        this.device = device;
        mean = own(Tensor.zeros(device, DType.F64));
        var = own(Tensor.zeros(device, DType.F64));
        sum = own(Tensor.zeros(device, DType.F64));
    }

    private static Tensor own(Tensor t) { return Scope.detachFromScopes(t); }

    /**
     * Clips the gradients of {@code params} in place when their global L2 norm spikes; returns the coefficient applied
     * (a 0-d F32 device tensor, 1 when nothing was clipped). Non-finite norms leave gradients and state alone.
     */
    public Tensor clip(List<Tensor> params) {
        List<Tensor> grads = GradNorm.gradients(params);
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Tensor norm = GradNorm.compute(device, grads, Double.POSITIVE_INFINITY, 2, null).narrow(0, GradNorm.NORM, 1).reshape().to(DType.F64);
            Tensor finite = norm.isFinite();
            Tensor safe = Tensor.where(finite, norm, Tensor.zeros(device, DType.F64));
            Tensor coef;
            if (seen < warmup) {
                // warm-up: mean and variance of the first norms (Welford on the device), nothing clipped
                long n = seen + 1;
                Tensor d = safe.sub(mean);
                Tensor newMean = mean.add(d.div(n));
                sum.copyFrom(sum.add(d.mul(safe.sub(newMean))));
                mean.copyFrom(newMean);
                if (n == warmup) var.copyFrom(sum.div(n));
                coef = Tensor.ones(device, DType.F32);
            } else {
                Tensor std = var.sqrt().maximum(1e-12);
                Tensor z = safe.sub(mean).div(std);
                Tensor spike = z.gt(zThreshold).mul(finite);
                Tensor clipped = mean.add(z.maximum(1e-12).rdiv(zThreshold * zThreshold).mul(std));
                Tensor after = Tensor.where(spike, clipped, safe);
                coef = Tensor.where(spike, clipped.div(safe.add(1e-6)), Tensor.ones(device, DType.F64)).to(DType.F32);
                // EMA update with the clipped norm, only for finite norms
                Tensor newMean = mean.mul(alpha).add(after.mul(1 - alpha));
                Tensor newVar = var.mul(alpha).add(after.sub(newMean).square().mul(1 - alpha));
                mean.copyFrom(Tensor.where(finite, newMean, mean));
                var.copyFrom(Tensor.where(finite, newVar, var));
                for (Tensor g : grads) g.mulInPlace(coef);
            }
            seen++;
            return Scope.keep(coef);
        }
    }

    /** Steps seen so far. */
    public long steps() { return seen; }

    /** The EMA mean and standard deviation of the norm, read on the host (a sync). */
    public double[] meanAndStd() { return new double[] {mean.item(), Math.sqrt(var.item())}; }

    /** State for checkpoints: {@code mean}, {@code var}, {@code m2} (warm-up accumulator), {@code steps}. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("mean", mean);
        m.put("var", var);
        m.put("m2", sum);
        m.put("steps", Tensor.fromArray(device, new long[] {seen}));
        return m;
    }

    public void loadStateDict(Map<String, Tensor> state) {
        for (String k : List.of("mean", "var", "m2", "steps"))
            if (!state.containsKey(k)) throw new IllegalArgumentException("zclip state: missing entry '" + k + "'");
        mean.copyFrom(state.get("mean"));
        var.copyFrom(state.get("var"));
        sum.copyFrom(state.get("m2"));
        seen = state.get("steps").toLongArray()[0];
    }

    @Override public void close() {
        mean.close();
        var.close();
        sum.close();
    }
}
