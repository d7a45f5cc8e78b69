package dev.ballast.train.builtin;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Checks of a {@link TrainConfig} beyond each value's range: settings given for a model, task or optimizer they
 * do not apply to ({@link #checkApplies}), and sizes a machine cannot hold ({@link #checkSizes}: the largest
 * tensors a setting makes, in bytes, against the machine's memory), so they fail as a clear configuration error
 * naming the setting and the bytes instead of an out-of-memory error or an overflow deep in the run.
 */
final class ConfigChecks {
    private ConfigChecks() {}

    /** Which models, tasks or optimizers a setting applies to; settings not listed apply to every run. */
    private static final Map<String, List<String>> MODELS_OF = Map.of(
            "depth", List.of("mlp", "resmlp"), "width", List.of("mlp", "resmlp", "transformer"),
            "activation", List.of("mlp", "resmlp"), "hidden", List.of("rnn", "lstm", "gru"),
            "layers", List.of("rnn", "lstm", "gru", "transformer"), "heads", List.of("transformer"));
    private static final Map<String, List<String>> TASKS_OF = Map.of(
            "seqLen", List.of("adding", "temporal-order", "copy", "sort"), "vocab", List.of("copy", "sort"));

    /** Whether setting {@code key} changes the run {@code c} (heads does nothing for an mlp, say). */
    static boolean applies(TrainConfig c, String key) {
        List<String> models = MODELS_OF.get(key), tasks = TASKS_OF.get(key);
        return (models == null || models.contains(c.model())) && (tasks == null || tasks.contains(c.task()))
                && (!key.equals("momentum") || c.optimizer().equals("sgd"))
                && (!key.equals("lossScale") || c.precision().equals("fp16"));
    }

    /** Throws a {@link ConfigException} for the first of {@code given} that the run {@code c} would ignore. */
    static void checkApplies(TrainConfig c, Collection<String> given) {
        for (String k : given) {
            List<String> models = MODELS_OF.get(k), tasks = TASKS_OF.get(k);
            if (models != null && !models.contains(c.model()))
                throw new ConfigException(k, k + " does not apply to model " + c.model() + " (it is a setting of "
                        + String.join(", ", models) + "); remove it");
            if (tasks != null && !tasks.contains(c.task()))
                throw new ConfigException(k, k + " does not apply to task " + c.task() + " (it is a setting of "
                        + String.join(", ", tasks) + "); remove it");
            if (k.equals("momentum") && !c.optimizer().equals("sgd"))
                throw new ConfigException(k, "momentum does not apply to optimizer " + c.optimizer() + " (only sgd has it); remove it");
            if (k.equals("lossScale") && !c.precision().equals("fp16"))
                throw new ConfigException(k, "lossScale does not apply to precision " + c.precision()
                        + " (only fp16 scales its loss: bf16 and fp32 have fp32's exponent range); remove it");
        }
    }

    /** Bytes of physical memory, the bound a single tensor is checked against. */
    static long machineMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return Runtime.getRuntime().maxMemory();
    }

    /**
     * Throws a {@link ConfigException} when one tensor the run makes would not fit in {@code limit} bytes: weights,
     * embeddings, the training set, one batch's activations or attention scores. The message names the settings that
     * make it, the shape and the bytes.
     */
    static void checkSizes(TrainConfig c, long limit) {
        boolean seq = TASKS_OF.get("seqLen").contains(c.task());
        boolean tokens = c.task().equals("copy") || c.task().equals("sort");
        TrainConfig d = TrainConfig.defaults(c.task());
        Sizes sz = new Sizes(c, d, limit);
        switch (c.model()) {
            case "mlp", "resmlp" -> {
                sz.check("a weight", "width", "width");
                sz.check("the activations", "batch", "width");
                if (seq) sz.check("the first weight", "seqLen", "width");
            }
            case "rnn", "lstm", "gru" -> {
                sz.check("the gate weights", "hidden", "hidden", 4);
                sz.check("the saved gates", "batch", "seqLen", "hidden", 4);
            }
            case "transformer" -> {
                sz.check("the feed-forward weight", "width", "width", 4);
                sz.check("the attention scores", "batch", "heads", "seqLen", "seqLen", tokens ? 4 : 1);
                sz.check("the activations", "batch", "seqLen", "width", 4 * (tokens ? 2 : 1));
            }
            default -> { }
        }
        if (tokens) sz.check("the embedding", "vocab", c.model().equals("transformer") || c.model().endsWith("mlp") ? "width" : "hidden");
        if (seq) {
            sz.check("the training set", "trainSize", "seqLen", 2);
            sz.check("the test set", "testSize", "seqLen", 2);
        } else {
            sz.check("the training set", "trainSize", 2);
            sz.check("the test set", "testSize", 2);
        }
    }

    /** Size checks of one config: each tensor is a product of settings (and constants), four bytes per element. */
    private record Sizes(TrainConfig c, TrainConfig defaults, long limit) {
        /**
         * Throws when the product of {@code factors} (setting names, or Integer constants) times 4 bytes exceeds the
         * limit, naming the setting furthest above its default: the one that made it too large.
         */
        void check(String what, Object... factors) {
            Map<String, Object> now = c.toMap(), base = defaults.toMap();
            long bytes = 4;
            String blame = null;
            double worst = 0;
            StringBuilder shape = new StringBuilder();
            for (Object f : factors) {
                long v = f instanceof String k ? ((Number) now.get(k)).longValue() : ((Number) f).longValue();
                if (shape.length() > 0) shape.append(" x ");
                shape.append(f instanceof String k ? k + " " + v : Long.toString(v));
                try {
                    bytes = Math.multiplyExact(bytes, v);
                } catch (ArithmeticException e) {
                    bytes = Long.MAX_VALUE;
                }
                if (f instanceof String k) {
                    double ratio = v / Math.max(1.0, ((Number) base.get(k)).doubleValue());
                    if (blame == null || ratio > worst) {
                        blame = k;
                        worst = ratio;
                    }
                }
            }
            if (bytes > limit)
                throw new ConfigException(blame, String.format(Locale.ROOT, "%s: %s (%s) asks for %,d bytes (float32), more than"
                        + " this machine's %,d bytes of memory; lower %s", blame, what, shape, bytes, limit, blame));
        }
    }

}
