package dev.ballast.stability.reference;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.chain.StepStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code chain} kind of reference case (pytorch-chain-cases.json): parameters with initial values, transforms in
 * order, an optimizer and four steps of incoming gradients, each with whether PyTorch skipped it and every parameter
 * after it. Replayed through a real {@link GradientChain} on a device: the skip must match, the parameters must be
 * within the file's tolerance, and a skipped step must leave them bit-identical.
 */
final class ChainReference {
    private ChainReference() {}

    /** The links for a case's {@code transforms} list, in the reference file's vocabulary. */
    static List<Link> links(JsonNode transforms) {
        List<Link> links = new ArrayList<>();
        for (JsonNode t : transforms) {
            String op = ReferenceCases.field(t, "op").asText();
            links.add(switch (op) {
                case "unscale" -> Link.scaleBy(1 / ReferenceCases.number(ReferenceCases.field(t, "scale")));
                case "clip_value" -> Link.clipByValue(ReferenceCases.number(ReferenceCases.field(t, "value")));
                case "clip_norm" -> Link.clipByGlobalNorm(ReferenceCases.number(ReferenceCases.field(t, "max_norm")),
                        ReferenceCases.number(ReferenceCases.field(t, "norm_type")));
                case "agc" -> Link.adaptiveClip(ReferenceCases.number(ReferenceCases.field(t, "clipping")),
                        ReferenceCases.number(ReferenceCases.field(t, "eps")));
                case "skip_nonfinite" -> Link.skipIfNonFinite();
                default -> throw new IllegalArgumentException("unknown transform op '" + op
                        + "' (allowed: unscale, clip_value, clip_norm, agc, skip_nonfinite)");
            });
        }
        return links;
    }

    static Optimizer optimizer(JsonNode o, List<Tensor> params) {
        String type = ReferenceCases.field(o, "type").asText();
        double lr = ReferenceCases.number(ReferenceCases.field(o, "lr"));
        double wd = ReferenceCases.number(ReferenceCases.field(o, "weight_decay"));
        return switch (type) {
            case "sgd" -> new SGD(params, lr, ReferenceCases.number(ReferenceCases.field(o, "momentum")), 0, wd, false);
            case "adamw" -> {
                JsonNode betas = ReferenceCases.field(o, "betas");
                yield new AdamW(params, lr, betas.get(0).asDouble(), betas.get(1).asDouble(),
                        ReferenceCases.number(ReferenceCases.field(o, "eps")), wd);
            }
            default -> throw new IllegalArgumentException("unknown optimizer type '" + type + "' (allowed: sgd, adamw)");
        };
    }

    static ReferenceCases.Result run(ReferenceCases.Case c, Device device, ReferenceCases.Tolerance tol) {
        JsonNode j = c.json();
        JsonNode shapes = ReferenceCases.field(j, "shapes"), init = ReferenceCases.field(j, "params");
        List<Tensor> params = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            long[] shape = new long[shapes.get(i).size()];
            for (int d = 0; d < shape.length; d++) shape[d] = shapes.get(i).get(d).asLong();
            params.add(Scope.keep(Tensor.fromArray(device, DType.F32, ReferenceCases.doubles(init.get(i)), shape)).requiresGrad(true));
        }
        List<Link> links = links(ReferenceCases.field(j, "transforms"));
        try (Optimizer opt = optimizer(ReferenceCases.field(j, "optimizer"), params)) {
            links.add(Link.apply(opt));
            try (GradientChain chain = GradientChain.of(links)) {
                JsonNode steps = ReferenceCases.field(j, "steps");
                int skipped = 0;
                double worst = 0;
                for (int s = 0; s < steps.size(); s++) {
                    JsonNode st = steps.get(s);
                    JsonNode grads = ReferenceCases.field(st, "grads");
                    List<double[]> before = new ArrayList<>();
                    for (int i = 0; i < params.size(); i++) {
                        before.add(params.get(i).toDoubleArray());
                        params.get(i).setGrad(Tensor.fromArray(device, DType.F32, ReferenceCases.doubles(grads.get(i)), params.get(i).shape()));
                    }
                    boolean wasSkipped;
                    try (Scope scope = Scope.open()) {
                        StepStats stats = chain.step();
                        wasSkipped = stats.read().skipped();
                    }
                    boolean expected = ReferenceCases.field(st, "skipped").asBoolean();
                    if (wasSkipped != expected)
                        return fail(c, device, "step " + s + ": skipped=" + wasSkipped + ", PyTorch skipped=" + expected);
                    if (wasSkipped) skipped++;
                    JsonNode after = ReferenceCases.field(st, "params_after");
                    for (int i = 0; i < params.size(); i++) {
                        double[] got = params.get(i).toDoubleArray(), want = ReferenceCases.doubles(after.get(i));
                        if (wasSkipped && !Arrays.equals(got, before.get(i)))
                            return fail(c, device, "step " + s + ": skipped, but parameter " + i + " changed");
                        for (int k = 0; k < want.length; k++) {
                            String bad = tol.compare("step " + s + " parameter " + i + "[" + k + "]", want[k], got[k]);
                            if (bad != null) return fail(c, device, bad);
                            worst = Math.max(worst, Math.abs(got[k] - want[k]));
                        }
                    }
                }
                return new ReferenceCases.Result(c, device.name(), ReferenceCases.Status.PASSED,
                        String.format("%d steps, %d skipped, max |error| %.2g", steps.size(), skipped, worst));
            }
        } finally {
            for (Tensor p : params) {
                p.zeroGrad();
                p.close();
            }
        }
    }

    private static ReferenceCases.Result fail(ReferenceCases.Case c, Device device, String why) {
        return new ReferenceCases.Result(c, device.name(), ReferenceCases.Status.FAILED, why);
    }
}
