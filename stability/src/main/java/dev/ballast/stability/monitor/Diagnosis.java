package dev.ballast.stability.monitor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the monitor's snapshots into {@link Finding}s in words: exploding (the global gradient norm growing over
 * steps, or gradient norms growing layer by layer towards the input), vanishing (shrinking towards the input), dead
 * units (gradients of a layer mostly exactly zero), saturation (most of a layer's gradient values many orders of
 * magnitude below its largest), and non-finite gradients or loss. Each says what it saw with the numbers and which
 * cures apply given the {@link ModelTraits}; a suggested clip threshold comes from the norms seen before any growth.
 */
public final class Diagnosis {
    private Diagnosis() {}

    /** Growth of the global norm over steps (peak over early median) that counts as an explosion. */
    static final double EXPLODING_OVER_STEPS = 100;
    /** Ratio of input-most to output-most layer gradient norms that counts as exploding (or its inverse, vanishing). */
    static final double LAYERWISE_RATIO = 100;
    /** Fraction of exactly-zero gradient values that marks dead units. */
    static final double DEAD_FRACTION = 0.5;
    /** Fraction of a layer's non-zero gradient values below 2^-{@value #SATURATION_OCTAVES} of its largest that marks saturation. */
    static final double SATURATED_FRACTION = 0.5;
    static final int SATURATION_OCTAVES = 20;

    /**
     * The findings of a run: {@code history} (oldest first), the first non-finite origin (may be null), the step and
     * value of a non-finite loss that stopped or troubled the run ({@code divergedStep} 0 when none).
     */
    public static List<Finding> diagnose(List<HealthSnapshot> history, NonFiniteOrigin origin, long divergedStep,
                                         double divergedLoss, ModelTraits traits) {
        List<Finding> out = new ArrayList<>();
        List<HealthSnapshot> finite = history.stream()
                .filter(s -> s.nonFinite() == 0 && Double.isFinite(s.globalGradNorm())).toList();
        Finding overSteps = explodingOverSteps(finite, traits, divergedStep > 0 || origin != null);
        if (overSteps != null) out.add(overSteps);
        if (!finite.isEmpty()) {
            HealthSnapshot last = finite.getLast();
            Finding layerwise = layerwise(last, traits, overSteps != null);
            if (layerwise != null) out.add(layerwise);
            List<Finding> dead = deadUnits(last, traits);
            out.addAll(dead);
            if (dead.stream().noneMatch(f -> f.kind().equals("saturation"))) out.addAll(saturation(last, traits));
        }
        if (origin != null || divergedStep > 0) out.add(nonFinite(finite, origin, divergedStep, divergedLoss, traits));
        return out;
    }

    // ------------------------------------------------------------------ exploding over steps

    private static Finding explodingOverSteps(List<HealthSnapshot> finite, ModelTraits t, boolean diverged) {
        if (finite.size() < 2) return null;
        double[] norms = finite.stream().mapToDouble(HealthSnapshot::globalGradNorm).toArray();
        int early = Math.max(1, norms.length / 3);
        double base = median(Arrays.copyOf(norms, early));
        int peak = 0;
        for (int i = 1; i < norms.length; i++) if (norms[i] > norms[peak]) peak = i;
        double growth = norms[peak] / Math.max(base, Double.MIN_NORMAL);
        if (!(growth >= EXPLODING_OVER_STEPS || (diverged && growth >= 10)) || peak < early) return null;
        HealthSnapshot first = finite.getFirst(), top = finite.get(peak);
        long steps = Math.max(1, top.step() - first.step());
        double perStep = Math.pow(norms[peak] / norms[0], 1.0 / steps);
        // where it grew most: the parameter whose norm rose by the largest factor
        String where = null;
        double whereFactor = 0, whereShare = 0;
        for (ParamStats p : top.params()) {
            ParamStats p0 = first.param(p.name());
            if (p0 == null || !(p0.gradNorm() > 0)) continue;
            double f = p.gradNorm() / p0.gradNorm();
            if (f > whereFactor) {
                whereFactor = f;
                where = p.name();
                whereShare = Math.pow(p.gradNorm() / norms[peak], 2);
            }
        }
        // and the weights that grew most (an unstable recurrence shows here first)
        String grewW = null;
        double wFactor = 0, w0 = 0, w1 = 0;
        for (ParamStats p : top.params()) {
            ParamStats p0 = first.param(p.name());
            if (p0 == null || !(p0.weightNorm() > 0)) continue;
            double f = p.weightNorm() / p0.weightNorm();
            if (f > wFactor) {
                wFactor = f;
                grewW = p.name();
                w0 = p0.weightNorm();
                w1 = p.weightNorm();
            }
        }
        double threshold = suggestedClip(norms, base);
        String seen = String.format(Locale.ROOT, "the global gradient norm grew from %s (step %d) to %s (step %d), x%s (about x%.3g per step)",
                g(norms[0]), first.step(), g(norms[peak]), top.step(), g(norms[peak] / norms[0]), perStep);
        if (where != null)
            seen += String.format(Locale.ROOT, "; it grew most in '%s' (x%s), %.0f%% of the squared norm at step %d",
                    where, g(whereFactor), 100 * whereShare, top.step());
        if (grewW != null && wFactor >= 2)
            seen += String.format(Locale.ROOT, "; the weights grew most in '%s' (norm %s -> %s)", grewW, g(w0), g(w1));
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("from_norm", norms[0]);
        n.put("from_step", first.step());
        n.put("to_norm", norms[peak]);
        n.put("to_step", top.step());
        n.put("growth_per_step", perStep);
        if (where != null) {
            n.put("grew_most_in", where);
            n.put("grew_most_factor", whereFactor);
        }
        n.put("suggested_clip", threshold);
        return new Finding("exploding", where == null ? "run" : where, seen, explodingCures(t, threshold), n);
    }

    private static List<String> explodingCures(ModelTraits t, double threshold) {
        List<String> c = new ArrayList<>();
        if (t.clip() > 0) c.add("a tighter gradient-norm clip (now " + g(t.clip()) + "; the norms before the growth suggest " + g(threshold) + ")");
        else c.add("gradient-norm clipping at about " + g(threshold) + " (--clip " + g(threshold) + ", the 90th percentile of the norms before the growth)");
        c.add("a lower learning rate (now " + g(t.lr()) + "; try " + g(t.lr() / 10) + ")");
        if (t.recurrent() && !t.gated()) c.add("gated recurrent cells (--model lstm or gru)");
        if (!t.recurrent() && !t.residual()) c.add("residual connections");
        if (!t.normalized()) c.add("normalization layers");
        c.add("Xavier/He initialization with smaller gains");
        c.add("an explosion guard (--guard rollback,backoff:0.5:50)");
        return c;
    }

    /** The 90th percentile of the norms seen before they passed 10x the early median (at least the early median). */
    static double suggestedClip(double[] norms, double base) {
        double[] before = Arrays.stream(norms).filter(v -> v <= 10 * base).sorted().toArray();
        if (before.length == 0) return round2(base);
        double p90 = before[(int) Math.min(before.length - 1, Math.ceil(0.9 * before.length) - 1)];
        return round2(Math.max(p90, base));
    }

    // ------------------------------------------------------------------ layer by layer

    /** Weight matrices (rank >= 2 and not embeddings) in model order, from input to output. */
    private static List<ParamStats> layers(HealthSnapshot s) {
        List<ParamStats> out = new ArrayList<>();
        for (ParamStats p : s.params())
            if (p.name().contains("weight") && !p.name().contains("embed") && p.histogram().total() == p.numel() && p.numel() > 1
                    && !p.name().contains("norm")) out.add(p);
        return out;
    }

    private static Finding layerwise(HealthSnapshot s, ModelTraits t, boolean alreadyExploding) {
        List<ParamStats> layers = layers(s);
        if (layers.size() < 3 || t.recurrent()) return null;
        ParamStats in = layers.getFirst(), out = layers.getLast();
        if (!(in.gradNorm() > 0) || !(out.gradNorm() > 0)) return null;
        double ratio = in.gradNorm() / out.gradNorm();
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("step", s.step());
        n.put("input_layer", in.name());
        n.put("input_norm", in.gradNorm());
        n.put("output_layer", out.name());
        n.put("output_norm", out.gradNorm());
        n.put("layers", layers.size());
        String seen = String.format(Locale.ROOT, "at step %d the gradient norm of '%s' (input side) is %s and of '%s' (output side) %s: x%s over %d weight layers",
                s.step(), in.name(), g(in.gradNorm()), out.name(), g(out.gradNorm()), g(ratio), layers.size());
        if (ratio >= LAYERWISE_RATIO && !alreadyExploding) {
            List<String> c = new ArrayList<>(List.of("Xavier/He initialization with smaller gains", "normalization layers"));
            if (!t.residual()) c.add("residual connections");
            c.add("gradient-norm clipping");
            return new Finding("exploding", in.name(), "gradient norms grow towards the input: " + seen, c, n);
        }
        if (ratio <= 1 / LAYERWISE_RATIO) {
            List<String> c = new ArrayList<>();
            c.add("Xavier/He initialization (gain for the activation)");
            if (t.saturating() && !t.recurrent()) c.add("ReLU instead of " + (t.activation().isEmpty() ? "sigmoid/tanh" : t.activation()));
            if (!t.residual()) c.add("residual connections");
            if (!t.normalized()) c.add("normalization layers");
            return new Finding("vanishing", in.name(), "gradient norms shrink towards the input: " + seen, c, n);
        }
        return null;
    }

    private static List<Finding> deadUnits(HealthSnapshot s, ModelTraits t) {
        List<ParamStats> dead = layers(s).stream().filter(p -> p.zeroFraction() >= DEAD_FRACTION).toList();
        if (dead.isEmpty()) return List.of();
        ParamStats worst = dead.stream().max((a, b) -> Double.compare(a.zeroFraction(), b.zeroFraction())).get();
        String seen = String.format(Locale.ROOT, "at step %d %d layer(s) have at least %.0f%% exactly-zero gradient values; worst '%s' with %.1f%% (%d of %d)",
                s.step(), dead.size(), 100 * DEAD_FRACTION, worst.name(), 100 * worst.zeroFraction(), worst.zeros(), worst.numel());
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("step", s.step());
        n.put("layers", dead.stream().map(ParamStats::name).toList());
        n.put("zero_fraction", worst.zeroFraction());
        if (t.saturating() && !t.activation().contains("relu")) {
            // tanh and sigmoid pass exactly zero gradient only when fully saturated (1 - tanh^2 rounds to 0)
            List<String> c = new ArrayList<>(List.of("Xavier initialization with the activation's gain", "a lower learning rate (now " + g(t.lr()) + ")",
                    "gradient-norm clipping"));
            if (t.recurrent()) c.add("gated recurrent cells (--model lstm or gru)");
            else c.add("ReLU instead of " + t.activation());
            if (!t.normalized()) c.add("normalization layers");
            return List.of(new Finding("saturation", worst.name(), seen + ": the " + (t.activation().isEmpty() ? "tanh" : t.activation())
                    + " units are saturated (their derivative rounds to 0)", c, n));
        }
        List<String> c = new ArrayList<>(List.of("He (Kaiming) initialization", "a leaky ReLU or GELU instead of ReLU",
                "a lower learning rate (now " + g(t.lr()) + ")"));
        if (!t.normalized()) c.add("normalization layers");
        return List.of(new Finding("dead-units", worst.name(), seen, c, n));
    }

    private static List<Finding> saturation(HealthSnapshot s, ModelTraits t) {
        List<Finding> out = new ArrayList<>();
        ParamStats worst = null;
        double worstFraction = 0;
        int count = 0;
        for (ParamStats p : layers(s)) {
            if (!(p.maxAbsGrad() > 0)) continue;
            // in the histogram's terms: its values carry h.scale() (1, unless a static loss scale was not a power of two)
            int top = Math.getExponent(p.maxAbsGrad() * p.histogram().scale());
            int below = Math.max(-126, top - SATURATION_OCTAVES);
            double f = p.histogram().fractionBelow(below);
            if (f >= SATURATED_FRACTION) {
                count++;
                if (f > worstFraction) {
                    worstFraction = f;
                    worst = p;
                }
            }
        }
        if (worst == null) return out;
        String seen = String.format(Locale.ROOT, "at step %d %d layer(s) pass almost no gradient through most units; worst '%s': %.0f%% of its non-zero gradient values are over 2^%d (1e6) below its largest |g| %s",
                s.step(), count, worst.name(), 100 * worstFraction, SATURATION_OCTAVES, g(worst.maxAbsGrad()));
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("step", s.step());
        n.put("saturated_fraction", worstFraction);
        n.put("max_abs_grad", worst.maxAbsGrad());
        List<String> c = new ArrayList<>();
        c.add("Xavier initialization with the activation's gain");
        if (t.saturating()) c.add(t.recurrent() ? "gated recurrent cells (--model lstm or gru)" : "ReLU instead of " + t.activation());
        if (!t.normalized()) c.add("normalization layers");
        c.add("a lower learning rate (now " + g(t.lr()) + ")");
        out.add(new Finding("saturation", worst.name(), seen, c, n));
        return out;
    }

    // ------------------------------------------------------------------ non-finite

    private static Finding nonFinite(List<HealthSnapshot> finite, NonFiniteOrigin origin, long divergedStep, double loss,
                                     ModelTraits t) {
        StringBuilder seen = new StringBuilder();
        Map<String, Object> n = new LinkedHashMap<>();
        String where = "run";
        if (origin != null) {
            seen.append(origin.describe());
            where = !origin.parameter().isEmpty() ? origin.parameter() : origin.module().isEmpty() ? "run" : origin.module();
            n.put("origin_step", origin.step());
            n.put("origin_parameter", origin.parameter());
            n.put("origin_count", origin.count());
            if (!origin.op().isEmpty()) n.put("origin_op", origin.op());
            if (!origin.module().isEmpty()) n.put("origin_module", origin.module());
        }
        if (divergedStep > 0) {
            if (!seen.isEmpty()) seen.append("; ");
            seen.append("the loss was ").append(loss).append(" at step ").append(divergedStep);
            n.put("loss_step", divergedStep);
            n.put("loss", loss);
        }
        double threshold = Double.NaN;
        if (!finite.isEmpty()) {
            HealthSnapshot last = finite.getLast();
            seen.append(String.format(Locale.ROOT, "; the last finite reading (step %d) had global gradient norm %s", last.step(), g(last.globalGradNorm())));
            n.put("last_finite_step", last.step());
            n.put("last_finite_norm", last.globalGradNorm());
            double[] norms = finite.stream().mapToDouble(HealthSnapshot::globalGradNorm).toArray();
            threshold = suggestedClip(norms, median(Arrays.copyOf(norms, Math.max(1, norms.length / 3))));
        }
        List<String> c = new ArrayList<>();
        c.add("a lower learning rate (now " + g(t.lr()) + "; try " + g(t.lr() / 10) + ")");
        c.add(Double.isNaN(threshold) ? "gradient-norm clipping" : "gradient-norm clipping at about " + g(threshold));
        if (t.lossScaling()) c.add("dynamic loss scaling with a lower initial scale (overflowing fp16 gradients are skipped, not applied)");
        c.add("an explosion guard that skips non-finite steps (--guard skip or rollback)");
        return new Finding("non-finite", where, seen.toString(), c, n);
    }

    // ------------------------------------------------------------------ helpers

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** A number in 3 significant digits. */
    static String g(double v) { return String.format(Locale.ROOT, "%.3g", v); }

    static double round2(double v) {
        if (!(v > 0) || Double.isInfinite(v)) return v;
        double scale = Math.pow(10, Math.floor(Math.log10(v)) - 1);
        return Math.round(v / scale) * scale;
    }
}
