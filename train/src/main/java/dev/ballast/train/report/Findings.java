package dev.ballast.train.report;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The findings a run's report shows: the gradient health diagnosis ({@code dev.ballast.stability.monitor.Diagnosis},
 * the product's one set of rules for exploding, vanishing, dead units, saturation and non-finite values), plus what
 * only the report's recorded numbers show: fp16 underflow of the first layer's gradients and steps the loss scaler
 * skipped, and a "healthy" line saying what was seen when there is nothing else.
 */
public final class Findings {
    /** A first-layer zero-gradient fraction above this is reported as fp16 underflow. */
    static final double ZERO_FRACTION = 0.2;

    private Findings() {}

    /** The findings of {@code run}: {@code diagnosis} (in its order) and the report's own; never empty. */
    public static List<Finding> of(RunLog run, List<dev.ballast.stability.monitor.Finding> diagnosis) {
        List<Finding> out = new ArrayList<>();
        for (var d : diagnosis) out.add(new Finding(d.kind(), d.seen(), d.cures()));
        double[] norms = run.steps().stream().mapToDouble(StepRecord::gradNorm).filter(Double::isFinite).toArray();
        boolean fp16 = "fp16".equals(run.config().get("precision"));
        double zeros = median(run.steps().stream().mapToDouble(s -> s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS))
                .filter(Double::isFinite).toArray());
        if (fp16 && zeros > ZERO_FRACTION && !run.layers().isEmpty())
            out.add(new Finding("underflow", String.format(Locale.ROOT, "%.0f%% of the first layer's (%s) weight-gradient entries are exactly zero (median over logged steps): fp16 flushed them%s",
                    100 * zeros, run.layers().getFirst(), run.scaled() ? " despite the loss scale" : " without a loss scale"),
                    List.of("dynamic loss scaling", "bf16 instead of fp16")));
        long skipped = run.skippedLogged();
        if (skipped > 0) {
            double minScale = run.steps().stream().mapToDouble(StepRecord::lossScale).filter(Double::isFinite).min().orElse(Double.NaN);
            out.add(new Finding("skipped", String.format(Locale.ROOT, "%d of %d logged steps had non-finite gradients and were skipped%s",
                    skipped, run.steps().size(), Double.isNaN(minScale) ? "" : "; the loss scale went as low as " + num(minScale)),
                    run.scaled() ? List.of("none needed: skipping overflowed steps is how dynamic loss scaling works") : List.of("gradient clipping", "a lower learning rate")));
        }
        if (out.isEmpty()) {
            double lo = Arrays.stream(norms).min().orElse(Double.NaN), hi = Arrays.stream(norms).max().orElse(Double.NaN);
            out.add(new Finding("healthy", String.format(Locale.ROOT, "the global gradient norm stayed between %s and %s (median %s)%s",
                    num(lo), num(hi), num(median(norms)), run.clip() > 0 ? String.format(Locale.ROOT, "; above the clip threshold %s on %d of %d logged steps",
                            num(run.clip()), Arrays.stream(norms).filter(n -> n > run.clip()).count(), norms.length) : ""), List.of()));
        }
        return out;
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
