package dev.ballast.train.report;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Findings in words drawn from a run's recorded numbers: non-finite losses, gradient norms that grow or shrink
 * layer by layer towards the input, spikes of the global norm over steps, first-layer gradients flushed to zero,
 * skipped steps; each with the numbers seen and the cures that apply. Until the gradient health monitor lands with
 * its own diagnosis, this is the report's source of findings.
 */
public final class Findings {
    /** Layer-to-layer growth (first layer over last, median over logged steps) called exploding or vanishing. */
    static final double LAYER_RATIO = 100;
    /** A global norm this many times its median is a spike. */
    static final double SPIKE_RATIO = 20;
    /** A first-layer zero-gradient fraction above this is reported. */
    static final double ZERO_FRACTION = 0.2;
    /** Fewer weight layers than this make no depth profile (a recurrent cell's input and hidden weights are not a stack). */
    static final int MIN_STACK = 4;

    private Findings() {}

    /** The findings of {@code run}; a run with nothing to report gets one "healthy" finding saying what was seen. */
    public static List<Finding> of(RunLog run) {
        List<Finding> out = new ArrayList<>();
        double[] norms = run.steps().stream().mapToDouble(StepRecord::gradNorm).filter(Double::isFinite).toArray();
        double median = median(norms);
        boolean recurrent = String.valueOf(run.config().get("model")).matches("rnn|lstm|gru");
        if (run.divergedAt() > 0) {
            StepRecord peak = peak(run);
            out.add(new Finding("non-finite", String.format(Locale.ROOT, "the loss was not finite at step %d%s", run.divergedAt(),
                    peak == null ? "" : String.format(Locale.ROOT, "; the global gradient norm had reached %s at step %d (median %s)",
                            num(peak.gradNorm()), peak.step(), num(median))),
                    cures(run, median, recurrent, true)));
        }
        depthProfile(run).ifPresent(out::add);
        StepRecord spike = spike(run);
        if (spike != null && run.divergedAt() == 0) {
            StepRecord peak = peak(run);
            String clipped = run.clip() > 0 ? String.format(Locale.ROOT, "; clipping at %s held the update on %d of %d logged steps",
                    num(run.clip()), Arrays.stream(norms).filter(n -> n > run.clip()).count(), norms.length) : "";
            out.add(new Finding("exploding", String.format(Locale.ROOT, "the global gradient norm spiked to %s at step %d, %.0fx the median of the steps before it; its peak was %s at step %d%s",
                    num(spike.gradNorm()), spike.step(), spike.gradNorm() / medianBefore(run, spike), num(peak.gradNorm()), peak.step(), clipped), cures(run, median, recurrent, false)));
        }
        double zeros = median(run.steps().stream().mapToDouble(s -> s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS))
                .filter(Double::isFinite).toArray());
        if (zeros > ZERO_FRACTION && !run.layers().isEmpty()) {
            boolean fp16 = "fp16".equals(run.config().get("precision"));
            out.add(fp16
                    ? new Finding("underflow", String.format(Locale.ROOT, "%.0f%% of the first layer's (%s) weight-gradient entries are exactly zero (median over logged steps): fp16 flushed them%s",
                            100 * zeros, run.layers().getFirst(), run.scaled() ? " despite the loss scale" : " without a loss scale"),
                            List.of("dynamic loss scaling", "bf16 instead of fp16"))
                    : new Finding("dead-units", String.format(Locale.ROOT, "%.0f%% of the first layer's (%s) weight-gradient entries are exactly zero (median over logged steps)",
                            100 * zeros, run.layers().getFirst()), List.of("a lower learning rate", "leaky ReLU or GELU", "He initialization")));
        }
        long skipped = run.skippedLogged();
        if (skipped > 0) {
            double minScale = run.steps().stream().mapToDouble(StepRecord::lossScale).filter(Double::isFinite).min().orElse(Double.NaN);
            out.add(new Finding("non-finite", String.format(Locale.ROOT, "%d of %d logged steps had non-finite gradients and were skipped%s",
                    skipped, run.steps().size(), Double.isNaN(minScale) ? "" : "; the loss scale went as low as " + num(minScale)),
                    run.scaled() ? List.of("none needed: skipping overflowed steps is how dynamic loss scaling works") : List.of("gradient clipping", "a lower learning rate")));
        }
        if (out.isEmpty()) {
            double lo = Arrays.stream(norms).min().orElse(Double.NaN), hi = Arrays.stream(norms).max().orElse(Double.NaN);
            out.add(new Finding("healthy", String.format(Locale.ROOT, "the global gradient norm stayed between %s and %s (median %s)%s",
                    num(lo), num(hi), num(median), run.clip() > 0 ? String.format(Locale.ROOT, "; above the clip threshold %s on %d of %d logged steps",
                            num(run.clip()), Arrays.stream(norms).filter(n -> n > run.clip()).count(), norms.length) : ""), List.of()));
        }
        return out;
    }

    /** Exploding or vanishing from layer to layer: the first layer's norm over the last's, median over logged steps. */
    private static java.util.Optional<Finding> depthProfile(RunLog run) {
        int n = run.layers().size();
        if (n < MIN_STACK) return java.util.Optional.empty();
        List<Double> logRatios = new ArrayList<>();
        StepRecord first = null;
        for (StepRecord s : run.steps()) {
            double a = s.layerGradNorm(0), b = s.layerGradNorm(n - 1);
            if (a > 0 && b > 0 && Double.isFinite(a) && Double.isFinite(b)) {
                logRatios.add(Math.log10(a / b));
                if (first == null) first = s;
            }
        }
        if (first == null) return java.util.Optional.empty();
        double ratio = Math.pow(10, median(logRatios.stream().mapToDouble(Double::doubleValue).toArray()));
        String where = String.format(Locale.ROOT, "from the last layer (%s, %s at step %d) to the first (%s, %s): x%s over %d layers, median over %d logged steps",
                run.layers().get(n - 1), num(first.layerGradNorm(n - 1)), first.step(), run.layers().getFirst(), num(first.layerGradNorm(0)),
                num(ratio), n, logRatios.size());
        if (ratio > LAYER_RATIO)
            return java.util.Optional.of(new Finding("exploding", "gradient norms grow towards the input " + where,
                    List.of("Xavier/He initialization", "ReLU instead of sigmoid/tanh", "residual connections with normalization", "gradient clipping")));
        if (ratio < 1 / LAYER_RATIO)
            return java.util.Optional.of(new Finding("vanishing", "gradient norms shrink towards the input " + where,
                    List.of("Xavier/He initialization", "ReLU instead of sigmoid/tanh", "residual connections with normalization")));
        return java.util.Optional.empty();
    }

    private static List<String> cures(RunLog run, double median, boolean recurrent, boolean diverged) {
        List<String> c = new ArrayList<>();
        if (run.clip() <= 0) c.add(Double.isFinite(median) && median > 0
                ? "gradient clipping (e.g. --clip " + num(suggestClip(median)) + ", about the median norm seen)" : "gradient clipping");
        c.add("a lower learning rate");
        if (recurrent && "rnn".equals(run.config().get("model"))) c.add("gated recurrent cells (LSTM, GRU)");
        if (!recurrent && diverged) c.add("Xavier/He initialization");
        return c;
    }

    /** The median rounded to one significant digit. */
    static double suggestClip(double median) {
        double p = Math.pow(10, Math.floor(Math.log10(median)));
        return Math.max(1, Math.round(median / p)) * p;
    }

    /** The largest logged norm that is {@link #SPIKE_RATIO} times the median of the (at least 3) logged norms before it. */
    private static StepRecord spike(RunLog run) {
        StepRecord best = null;
        double bestRatio = SPIKE_RATIO;
        for (StepRecord s : run.steps()) {
            double before = medianBefore(run, s);
            if (Double.isFinite(s.gradNorm()) && before > 0 && s.gradNorm() / before > bestRatio) {
                best = s;
                bestRatio = s.gradNorm() / before;
            }
        }
        return best;
    }

    private static double medianBefore(RunLog run, StepRecord at) {
        double[] v = run.steps().stream().filter(s -> s.step() < at.step()).mapToDouble(StepRecord::gradNorm)
                .filter(Double::isFinite).toArray();
        return v.length < 3 ? Double.NaN : median(v);
    }

    private static StepRecord peak(RunLog run) {
        StepRecord best = null;
        for (StepRecord s : run.steps()) if (Double.isFinite(s.gradNorm()) && (best == null || s.gradNorm() > best.gradNorm())) best = s;
        return best;
    }

    static double median(double[] v) {
        if (v.length == 0) return Double.NaN;
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Three significant digits, or scientific notation outside [0.01, 1e5). */
    static String num(double v) {
        if (!Double.isFinite(v)) return String.valueOf(v);
        double a = Math.abs(v);
        if (a != 0 && (a < 0.01 || a >= 1e5)) return String.format(Locale.ROOT, "%.2e", v);
        return String.format(Locale.ROOT, "%.3g", v).replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", "");
    }
}
