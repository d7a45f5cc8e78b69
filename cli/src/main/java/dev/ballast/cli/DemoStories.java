package dev.ballast.cli;

import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.report.Finding;
import dev.ballast.train.report.RunLog;
import dev.ballast.train.report.StepRecord;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The stories {@code ballast demo} tells, each a set of real runs with fixed seeds and a way to read their outcomes
 * into rows of the final table (story, run, result, what the gradients did):
 * <ol>
 * <li>depth: a 20-layer MLP on spirals-hard with tanh and a careless normal(0, 1) init, then Xavier, then ReLU with
 *     He init, then residual blocks with LayerNorm;</li>
 * <li>recurrence: a tanh RNN on the adding problem (T=50) at SGD lr 0.1, momentum 0.9, over several seeds, without
 *     and with norm clipping at 1.0, then an LSTM with clipping (Pascanu, Mikolov and Bengio 2013);</li>
 * <li>precision: one deep tanh MLP on spirals in fp32, bf16, fp16 with dynamic loss scaling and fp16 without it:
 *     the fraction of exactly-zero first-layer weight gradients, the loss scale with its skipped steps, and how
 *     far each loss curve strays from fp32's; then the mixed-precision issue's calibration model (48 tanh layers of
 *     256) in fp16 without and with loss scaling, where the unscaled run's first-layer gradients flush to zero.</li>
 * </ol>
 * {@code quick} shrinks every story (fewer layers, steps and seeds) so a test can run them all in seconds; the
 * stories' claims hold at full size only.
 */
final class DemoStories {
    /** One planned run: a directory-safe name, a title for people, its settings. */
    record Planned(String name, String title, TrainConfig config) {}

    /** One row of the final table. */
    record Row(String story, String run, String result, String gradients) {}

    /** A story: what it shows in words, its runs, and how its outcomes become table rows. */
    record Story(String key, String title, List<String> paragraphs, List<Planned> runs,
                 Function<List<DemoRunner.Outcome>, List<Row>> rows) {}

    private DemoStories() {}

    static List<Story> all(boolean quick, String device, int seeds) {
        return List.of(depth(quick, device), recurrence(quick, device, seeds), precision(quick, device));
    }

    static Story depth(boolean quick, String device) {
        int depth = quick ? 10 : 20;
        long steps = quick ? 120 : 600;
        Map<String, Object> base = new HashMap<>(Map.of("task", "spirals-hard", "steps", steps, "depth", depth, "width", 64,
                "batch", 128, "logEvery", quick ? 5 : 10, "evalEvery", quick ? 40 : 100, "device", device, "seed", 0));
        base.put("trainSize", quick ? 1000 : 4000);
        base.put("testSize", quick ? 500 : 2000);
        List<Planned> runs = List.of(
                plan("depth-careless", depth + " layers, tanh, normal(0, 1) init", base, "model", "mlp", "activation", "tanh", "init", "normal:1.0"),
                plan("depth-xavier", depth + " layers, tanh, Xavier init", base, "model", "mlp", "activation", "tanh", "init", "xavier"),
                plan("depth-relu-he", depth + " layers, ReLU, He init", base, "model", "mlp", "activation", "relu", "init", "kaiming"),
                plan("depth-residual", (depth / 2 - 1) + " residual blocks + LayerNorm, ReLU, He init", base, "model", "resmlp",
                        "activation", "relu", "init", "kaiming", "depth", depth / 2 - 1));
        return new Story("depth", "1. Depth: a " + depth + "-layer MLP on spirals-hard (2 turns)", List.of(
                "The same deep MLP four ways, Adam 1e-3, batch 128, " + steps + " steps, seed 0. With tanh and weights drawn "
                        + "from normal(0, 1), every layer multiplies the backward signal by about sqrt(width) times the "
                        + "slope of a saturated tanh: the per-layer gradient norms grow towards the input by many orders "
                        + "of magnitude and the net stays at chance. Xavier init keeps the scale per layer near 1; ReLU "
                        + "with He init does the same for ReLU; residual connections with LayerNorm give the gradient a "
                        + "path that skips the layers.",
                "The heatmaps show each layer's gradient norm (rows, input at the bottom) over the steps."),
                runs, DemoStories::depthRows);
    }

    static Story recurrence(boolean quick, String device, int seeds) {
        int n = quick ? Math.min(2, seeds) : seeds;
        long rnnSteps = quick ? 80 : 300, lstmSteps = quick ? 40 : 3000;
        Map<String, Object> base = new HashMap<>(Map.of("task", "adding", "seqLen", 50, "batch", 64, "logEvery", 10,
                "device", device, "trainSize", quick ? 5000 : 50_000, "testSize", quick ? 500 : 2000));
        List<Planned> runs = new ArrayList<>();
        for (int clip = 0; clip <= 1; clip++)
            for (int s = 0; s < n; s++)
                runs.add(plan("rnn-" + (clip == 0 ? "noclip" : "clip1") + "-seed" + s,
                        "tanh RNN 100, SGD lr 0.1 momentum 0.9, " + (clip == 0 ? "no clipping" : "clip 1.0") + ", seed " + s, base,
                        "model", "rnn", "hidden", 100, "optimizer", "sgd", "lr", 0.1, "momentum", 0.9, "clip", (double) clip,
                        "steps", rnnSteps, "seed", s, "skipNonFinite", false)); // the paper's plain protocol: no skipping
        runs.add(plan("lstm-clip1", "LSTM 128, Adam 1e-3, clip 1.0, seed 0", base, "model", "lstm", "hidden", 128, "optimizer", "adam",
                "lr", 1e-3, "clip", 1.0, "steps", lstmSteps, "seed", 0, "evalEvery", quick ? 20 : 300));
        return new Story("recurrence", "2. Recurrence: the adding problem, T=50", List.of(
                "A vanilla tanh RNN (hidden 100) trained with SGD, learning rate 0.1 and momentum 0.9, batch 64, as in "
                        + "Pascanu, Mikolov and Bengio (2013), over " + n + " seeds: without clipping the gradient norm spikes "
                        + "and the loss becomes NaN; with the global norm clipped at 1.0 no seed diverges, though a plain RNN "
                        + "still cannot carry the two marked numbers across 50 steps (test MSE stays near 0.167, what "
                        + "predicting the mean gives). An LSTM (hidden 128, Adam 1e-3, clip 1.0) learns it: test MSE under 0.01."),
                runs, DemoStories::recurrenceRows);
    }

    /** The tolerance of "follows fp32": mean absolute difference of the logged training losses. */
    static final double FOLLOWS_FP32 = 0.05;

    static Story precision(boolean quick, String device) {
        int depth = quick ? 6 : 20;
        long steps = quick ? 40 : 300;
        Map<String, Object> base = new HashMap<>(Map.of("task", "spirals", "model", "mlp", "activation", "tanh", "init", "xavier",
                "depth", depth, "width", 64, "batch", 128, "steps", steps, "logEvery", quick ? 5 : 10, "evalEvery", quick ? 20 : 100));
        base.putAll(Map.of("device", device, "seed", 0, "trainSize", quick ? 1000 : 4000, "testSize", quick ? 500 : 2000));
        List<Planned> runs = List.of(
                plan("precision-fp32", "fp32", base, "precision", "fp32"),
                plan("precision-bf16", "bf16 autocast, no loss scaling", base, "precision", "bf16"),
                plan("precision-fp16-scaled", "fp16 autocast, dynamic loss scaling", base, "precision", "fp16", "lossScale", "dynamic"),
                plan("precision-fp16-unscaled", "fp16 autocast, no loss scaling", base, "precision", "fp16", "lossScale", "none"),
                calibration("calib-fp16-unscaled", "no loss scaling", "none", quick, device),
                calibration("calib-fp16-scaled", "dynamic loss scaling", "dynamic", quick, device));
        return new Story("precision", "3. Precision: fp32, bf16 and fp16 with and without loss scaling", List.of(
                "The same network, data and seed four ways, Adam 1e-3, batch 128, " + steps + " steps: matrix products in "
                        + "fp32, in bf16 or in fp16 (autocast: fp32 master weights, fp32 accumulation, losses in fp32). fp16 "
                        + "holds magnitudes from 2^-24 (about 6e-8) to 65504; a gradient below that flushes to exactly zero "
                        + "and its weight stops learning. The table gives the fraction of exactly-zero entries of the first "
                        + "layer's weight gradient (the smallest gradients of a deep net sit there). Dynamic loss scaling "
                        + "multiplies the loss by a large factor (65536 to start) before backward and divides the gradients "
                        + "after, halving the factor and skipping the step when something overflows (the loss-scale chart "
                        + "marks those steps). bf16 has fp32's exponent range and needs no scaling.",
                "That network's first-layer gradients stay well inside fp16's range, so it loses none of them. The "
                        + "last two runs are the calibration model of the mixed-precision issue: " + CALIBRATION_DEPTH
                        + " tanh layers of width " + CALIBRATION_WIDTH + " with weights at Xavier gain 1's scale, Adam 1e-3, "
                        + "batch 256. Its gradients fade on the way down the layers; once training has moved it (about "
                        + "step 70 here) the first layer's fall below 2^-24 and fp16 without scaling flushes every one of "
                        + "them to zero, so the first layer stops learning. With dynamic loss scaling (the scale "
                        + "stays at 65536) they survive. It learns little of the spirals in its " + CALIBRATION_STEPS
                        + " steps at any precision; it is here for its gradients.",
                "\"Follows fp32\" means the mean absolute difference between a run's logged training losses and fp32's, "
                        + "step for step, is at most " + FOLLOWS_FP32 + "."),
                runs, DemoStories::precisionRows);
    }

    /** The calibration model of the mixed-precision issue (48 tanh layers of 256, Xavier gain 1, Adam 1e-3, batch 256). */
    static final int CALIBRATION_DEPTH = 48, CALIBRATION_WIDTH = 256, CALIBRATION_STEPS = 200;

    /**
     * One fp16 run of the calibration model: normal(0, sqrt(2 / (256 + 256))) weights, the standard deviation of
     * Xavier with gain 1 for its hidden layers. {@code quick} shrinks it to 8 layers of 32 for 20 steps.
     */
    private static Planned calibration(String name, String what, String lossScale, boolean quick, String device) {
        int depth = quick ? 8 : CALIBRATION_DEPTH, width = quick ? 32 : CALIBRATION_WIDTH;
        Map<String, Object> c = new HashMap<>(Map.of("task", "spirals", "model", "mlp", "activation", "tanh",
                "init", "normal:" + Math.sqrt(2.0 / (2 * width)), "depth", depth, "width", width, "batch", 256,
                "steps", (long) (quick ? 20 : CALIBRATION_STEPS), "logEvery", quick ? 5 : 10, "evalEvery", quick ? 20 : CALIBRATION_STEPS));
        c.putAll(Map.of("device", device, "seed", 0, "trainSize", quick ? 1000 : 4000, "testSize", quick ? 500 : 2000));
        return plan(name, String.format(Locale.ROOT, "calibration model (%d tanh layers of %d, Xavier gain 1 scale), fp16, %s",
                depth, width, what), c, "precision", "fp16", "lossScale", lossScale);
    }

    private static List<Row> precisionRows(List<DemoRunner.Outcome> outs) {
        RunLog fp32 = outs.stream().map(DemoRunner.Outcome::log).filter(l -> l.name().equals("precision-fp32")).findFirst().orElse(null);
        List<Row> rows = new ArrayList<>();
        for (DemoRunner.Outcome o : outs) {
            RunLog log = o.log();
            StringBuilder result = new StringBuilder(o.diverged() ? "diverged at step " + log.divergedAt()
                    : String.format(Locale.ROOT, "test accuracy %.1f%%", 100 * o.metric("accuracy")));
            if (fp32 != null && log != fp32 && log.name().startsWith("precision-")) {
                double d = meanLossGap(log, fp32);
                result.append(String.format(Locale.ROOT, "; loss vs fp32: mean |diff| %.3g (%s)", d,
                        d <= FOLLOWS_FP32 ? "follows fp32" : "strays from fp32"));
            }
            double[] zeros = log.steps().stream().mapToDouble(s -> s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS))
                    .filter(Double::isFinite).toArray();
            String grads = zeros.length == 0 ? "first-layer zero grads not recorded"
                    : String.format(Locale.ROOT, "first-layer zero grads %.1f%% median, %.1f%% max, %.1f%% at the end", 100 * median(zeros),
                            100 * java.util.Arrays.stream(zeros).max().orElse(0), 100 * zeros[zeros.length - 1]);
            Object scale = log.summary().get("final loss scale"), skipped = log.summary().get("overflow steps skipped");
            if (scale != null) grads += String.format(Locale.ROOT, "; loss scale 65536 -> %s, %s overflow steps skipped",
                    sci(((Number) scale).doubleValue()), skipped);
            rows.add(new Row("precision", log.title(), result.toString(), grads + headline(log)));
        }
        return rows;
    }

    /** Mean absolute difference of the logged training losses at the steps both runs logged (NaN when none). */
    static double meanLossGap(RunLog a, RunLog b) {
        Map<Long, Double> other = new HashMap<>();
        for (StepRecord s : b.steps()) if (Double.isFinite(s.loss())) other.put(s.step(), s.loss());
        double sum = 0;
        int n = 0;
        for (StepRecord s : a.steps()) {
            Double l = other.get(s.step());
            if (l != null && Double.isFinite(s.loss())) {
                sum += Math.abs(s.loss() - l);
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        java.util.Arrays.sort(c);
        return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
    }

    private static Planned plan(String name, String title, Map<String, Object> base, Object... kv) {
        Map<String, Object> s = new HashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) s.put((String) kv[i], kv[i + 1]);
        return new Planned(name, title, TrainConfig.resolve(s));
    }

    private static List<Row> depthRows(List<DemoRunner.Outcome> outs) {
        List<Row> rows = new ArrayList<>();
        for (DemoRunner.Outcome o : outs) {
            RunLog log = o.log();
            String result = o.diverged() ? "diverged at step " + log.divergedAt()
                    : String.format(Locale.ROOT, "test accuracy %.1f%%", 100 * o.metric("accuracy"));
            rows.add(new Row("depth", log.title(), result, layerProfile(log) + headline(log)));
        }
        return rows;
    }

    /** The first layer's gradient norm over the last's at the first logged step. */
    static String layerProfile(RunLog log) {
        int n = log.layers().size();
        for (StepRecord s : log.steps()) {
            double a = s.layerGradNorm(0), b = s.layerGradNorm(n - 1);
            if (a > 0 && b > 0 && Double.isFinite(a) && Double.isFinite(b))
                return String.format(Locale.ROOT, "first/last layer grad norm %s at step %d", sci(a / b), s.step());
        }
        return "no layer norms recorded";
    }

    private static List<Row> recurrenceRows(List<DemoRunner.Outcome> outs) {
        List<Row> rows = new ArrayList<>();
        for (String group : List.of("rnn-noclip", "rnn-clip1", "lstm-clip1")) {
            List<DemoRunner.Outcome> g = outs.stream().filter(o -> o.log().name().startsWith(group)).toList();
            if (g.isEmpty()) continue;
            long diverged = g.stream().filter(DemoRunner.Outcome::diverged).count();
            List<String> mse = new ArrayList<>(), at = new ArrayList<>();
            double maxNorm = 0;
            for (DemoRunner.Outcome o : g) {
                if (o.diverged()) at.add(Long.toString(o.log().divergedAt()));
                else mse.add(String.format(Locale.ROOT, "%.4f", o.metric("mse")));
                double m = o.log().maxGradNorm();
                if (m > maxNorm) maxNorm = m;
            }
            String title = switch (group) {
                case "rnn-noclip" -> "tanh RNN, SGD 0.1 + momentum, no clipping";
                case "rnn-clip1" -> "tanh RNN, SGD 0.1 + momentum, clip 1.0";
                default -> "LSTM 128, Adam 1e-3, clip 1.0";
            };
            String result = String.format(Locale.ROOT, "%d of %d seeds diverged%s%s", diverged, g.size(),
                    at.isEmpty() ? "" : " (NaN at step " + String.join(", ", at) + ")",
                    mse.isEmpty() ? "" : "; test MSE " + String.join(", ", mse));
            if (group.startsWith("lstm")) result = mse.isEmpty() ? result : "test MSE " + String.join(", ", mse);
            rows.add(new Row("recurrence", title, result, "max grad norm " + sci(maxNorm) + headline(g.getFirst().log())));
        }
        return rows;
    }

    /** "; <kind>" of the run's first finding, unless it is healthy. */
    private static String headline(RunLog log) {
        for (Finding f : log.findings()) if (!f.kind().equals("healthy")) return "; " + f.kind();
        return "";
    }

    static String sci(double v) {
        if (!Double.isFinite(v)) return String.valueOf(v);
        return Math.abs(v) >= 1e4 || (v != 0 && Math.abs(v) < 1e-2) ? String.format(Locale.ROOT, "%.1e", v)
                : String.format(Locale.ROOT, "%.3g", v);
    }
}
