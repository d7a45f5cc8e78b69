package dev.ballast.stability.chain;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * {@link Link#zClip}: ZClip (Kumar et al. 2025, "ZClip: Adaptive Spike Mitigation for LLM Pre-Training"). The state
 * is an exponential moving average of the global L2 norm's mean and variance; a norm whose z-score
 * {@code (g - mean) / std} passes {@code zThreshold} is clipped to {@code mean + zThreshold^2 / z * std} (the paper's
 * reciprocal rule) and the average is updated with the norm after clipping. The first {@code warmup} norms only
 * build mean and variance (Welford). Non-finite norms and steps an earlier link skipped leave gradients and state
 * alone. Everything runs on the device: the state is four 0-d F64 tensors ({@code mean}, {@code var}, {@code m2}
 * the warm-up sum of squares, {@code seen}), saved in checkpoints with the chain.
 */
public record ZClip(double zThreshold, double alpha, long warmup) implements Link {
    public ZClip {
        if (!(zThreshold > 0) || Double.isInfinite(zThreshold))
            throw new IllegalArgumentException("zclip: the z threshold must be a finite number > 0, got " + zThreshold);
        if (!(alpha > 0 && alpha < 1)) throw new IllegalArgumentException("zclip: alpha must be in (0, 1), got " + alpha);
        if (warmup < 2) throw new IllegalArgumentException("zclip: warmup must be >= 2 steps, got " + warmup);
    }

    @Override public LinkState init(List<Tensor> params) {
        Device d = params.isEmpty() ? Device.auto() : params.getFirst().device();
        return LinkState.of(Map.of("mean", Tensor.zeros(d, DType.F64), "var", Tensor.zeros(d, DType.F64),
                "m2", Tensor.zeros(d, DType.F64), "seen", Tensor.zeros(d, DType.F64)));
    }

    @Override public void update(Gradients g, LinkState s) {
        Tensor mean = s.get("mean"), var = s.get("var"), m2 = s.get("m2"), seen = s.get("seen");
        Tensor norm = g.norm(2).to(DType.F64);
        Tensor use = norm.isFinite().mul(g.skipFlag().eq(0)).gt(0);     // a norm that counts: finite, step not skipped
        Tensor x = Tensor.where(use, norm, mean);                       // any finite stand-in where it does not count
        Tensor warming = seen.lt(warmup);
        // warm-up: Welford's running mean and sum of squared deviations
        Tensor n = seen.add(1);
        Tensor d = x.sub(mean);
        Tensor wMean = mean.add(d.div(n));
        Tensor wM2 = m2.add(d.mul(x.sub(wMean)));
        Tensor wVar = Tensor.where(n.ge(warmup), wM2.div(n), var);
        // after warm-up: z-score against the EMA, the reciprocal clip, the EMA updated with the clipped norm
        Tensor std = var.sqrt().maximum(1e-12);
        Tensor z = x.sub(mean).div(std);
        Tensor spike = z.gt(zThreshold).mul(warming.eq(0)).mul(use).gt(0);
        Tensor clipped = mean.add(z.maximum(1e-12).rdiv(zThreshold * zThreshold).mul(std));
        Tensor after = Tensor.where(spike, clipped, x);
        Tensor eMean = mean.mul(alpha).add(after.mul(1 - alpha));
        Tensor eVar = var.mul(alpha).add(after.sub(eMean).square().mul(1 - alpha));
        g.clip(Tensor.where(spike, clipped.div(x.add(1e-6)), Tensor.ones(g.device(), DType.F64)).to(DType.F32));
        Tensor newMean = Tensor.where(warming, wMean, eMean), newVar = Tensor.where(warming, wVar, eVar);
        mean.copyFrom(Tensor.where(use, newMean, mean));
        var.copyFrom(Tensor.where(use, newVar, var));
        m2.copyFrom(Tensor.where(use.mul(warming).gt(0), wM2, m2));
        seen.copyFrom(Tensor.where(use, n, seen));
    }

    @Override public OptionalDouble readsNorm() { return OptionalDouble.of(2); }
}
