package dev.ballast.stability.reference;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.reference.ReferenceCases.Case;
import dev.ballast.stability.reference.ReferenceCases.Result;
import dev.ballast.stability.reference.ReferenceCases.Status;
import dev.ballast.stability.scale.GradScaler;
import dev.ballast.stability.scale.LossScalePolicy;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code scaler_hysteresis} kind: loss-scale trajectories under DeepSpeed's DynamicLossScaler rules
 * ({@code init_scale, scale_factor, scale_window, min_scale, hysteresis, consecutive_hysteresis} and per step
 * {@code overflow, skipped, scale_after}), replayed through a real chain ({@code unscale(scaler)},
 * {@code apply(AdamW)}) with an infinite gradient injected on the overflow steps. The scale after every step must
 * equal the expected one exactly, and the weights must change exactly on the steps not skipped.
 */
final class ScalerTrajectories {
    private ScalerTrajectories() {}

    static Result hysteresis(Case c, Device device) {
        JsonNode j = c.json();
        LossScalePolicy policy = LossScalePolicy.deepSpeed(ReferenceCases.number(ReferenceCases.field(j, "init_scale")),
                ReferenceCases.number(ReferenceCases.field(j, "scale_factor")), ReferenceCases.field(j, "scale_window").asLong(),
                ReferenceCases.number(ReferenceCases.field(j, "min_scale")), ReferenceCases.field(j, "hysteresis").asInt(),
                ReferenceCases.field(j, "consecutive_hysteresis").asBoolean());
        JsonNode steps = ReferenceCases.field(j, "steps");
        Tensor w = Scope.keep(Tensor.fromArray(device, DType.F32, new double[]{1, -2, 3}, 3)).requiresGrad(true);
        try (GradScaler scaler = new GradScaler(device, policy); AdamW adamw = new AdamW(List.of(w), 0.01)) {
            GradientChain chain = GradientChain.of(Link.unscale(scaler), Link.apply(adamw));
            int skipped = 0;
            for (int i = 0; i < steps.size(); i++) {
                JsonNode st = steps.get(i);
                boolean overflow = ReferenceCases.field(st, "overflow").asBoolean();
                double[] before = w.toDoubleArray();
                double scale = scaler.scale().item();
                double[] g = {0.5 * scale, -0.25 * scale, 0.125 * scale};
                if (overflow) g[i % 3] = i % 2 == 0 ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
                w.setGrad(Tensor.fromArray(device, DType.F32, g, 3));
                chain.step();
                boolean changed = !Arrays.equals(before, w.toDoubleArray());
                boolean expectSkip = ReferenceCases.field(st, "skipped").asBoolean();
                if (changed == expectSkip)
                    return new Result(c, device.name(), Status.FAILED, "step " + i + ": weights " + (changed ? "changed" : "unchanged")
                            + " but the step should " + (expectSkip ? "be skipped" : "update them"));
                double expected = ReferenceCases.number(ReferenceCases.field(st, "scale_after")), actual = scaler.scale().item();
                if (expected != actual)
                    return new Result(c, device.name(), Status.FAILED, "step " + i + " scale: expected " + expected + ", got " + actual);
                if (expectSkip) skipped++;
            }
            long counted = (long) scaler.skippedSteps().item();
            if (counted != skipped)
                return new Result(c, device.name(), Status.FAILED, "skipped-step counter " + counted + ", expected " + skipped);
            return new Result(c, device.name(), Status.PASSED, steps.size() + " steps, " + skipped + " skipped, final scale "
                    + scaler.scale().item());
        }
    }
}
