package dev.ballast.train.builtin;

import dev.ballast.engine.init.Init;
import dev.ballast.engine.init.WeightInit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every setting of a built-in training run ({@code ballast train}), validated on construction: a bad value throws
 * a {@link ConfigException} naming the key and the allowed values. Build one with {@link #resolve(Map)}, which
 * starts from the task's calibrated {@link #defaults(String) defaults} and applies overrides by key.
 *
 * <p>Keys (camelCase, as in a JSON config file):
 * <ul>
 * <li>{@code model} mlp | resmlp | rnn | lstm | gru | transformer; {@code task} spirals | spirals-hard | adding | temporal-order |
 *     teacher-student | copy | sort;</li>
 * <li>{@code steps}, {@code batch}, {@code lr}, {@code optimizer} sgd | adam | adamw, {@code momentum} (SGD only),
 *     {@code weightDecay} (L2 for sgd/adam, decoupled for adamw);</li>
 * <li>the gradient chain, built from these keys in one fixed order (guard, skip non-finite, adaptive clipping, clip by
 *     value, clip by norm, then the optimizer): {@code skipNonFinite} true | false (skip a step whose gradients hold
 *     NaN or infinity), {@code agc} unit-wise adaptive clipping factor (0 = off), {@code clipValue} per-element
 *     bound (0 = off), {@code clip} maximum global L2 gradient norm (0 = off); {@code maxConsecutiveSkips} stops the
 *     run after that many skipped steps in a row (0 = never); or {@code chain}, an explicit list of links in order
 *     ({@code [{"op": "clip_value", "value": 1}, {"op": "clip_norm", "max_norm": 1}]}, see {@code ChainSpec}), which
 *     replaces the keys above and the two below;</li>
 * <li>{@code guard} the explosion guard's policies ({@code skip}, {@code backoff:F:N}, {@code rollback}, comma-separated;
 *     null = off), first in the chain so it sees the raw loss and gradient norm; {@code clipAdaptive} {@code agc:λ},
 *     {@code autoclip:p} or {@code zclip:z} (null = off), after the skip;</li>
 * <li>{@code schedule} constant | cosine (to 0 over the steps after warm-up) | step (x0.1 every third of the
 *     steps), {@code warmup} linear warm-up steps (0 = none);</li>
 * <li>{@code seed}; {@code depth} (hidden layers of mlp, residual blocks of resmlp), {@code width} (mlp/resmlp
 *     width, transformer model dimension), {@code hidden} (recurrent hidden size), {@code layers} (recurrent or
 *     transformer layers), {@code heads} (attention heads);</li>
 * <li>{@code seqLen} (sequence length of adding, temporal-order, copy, sort), {@code vocab} (copy/sort symbols),
 *     {@code trainSize}, {@code testSize} (examples in the training set and the held-out test set);</li>
 * <li>{@code init} pytorch | xavier | kaiming | normal:&lt;std&gt; (the mlp/resmlp linear layers and every model's
 *     output layer; the gain follows {@code activation}, with relu's for gelu), {@code activation} tanh | relu |
 *     gelu (mlp/resmlp);</li>
 * <li>{@code evalEvery} (0 = a tenth of the steps), {@code logEvery} (metrics line and loss check), {@code device}
 *     auto | cpu | cuda; {@code precision} fp32 | bf16 | fp16 (mixed precision: matrix products in bf16/fp16
 *     under {@code Autocast} with F32 master weights; fp16 adds dynamic loss scaling, torch.amp.GradScaler's
 *     defaults, and an {@code unscale} link at the head of the chain); {@code lossScale} (fp16 only) dynamic (the
 *     default) | none (fp16 products with no loss scaling: small gradients flush to zero, what the scaler is
 *     for) | a number (a static scale; overflow steps are still skipped).</li>
 * </ul>
 */
public record TrainConfig(String model, String task, long steps, int batch, double lr, String optimizer, double momentum,
                          double weightDecay, double clip, double clipValue, String schedule, long warmup, long seed,
                          int depth, int width, int hidden, int layers, int heads, int seqLen, int vocab, String init,
                          String activation, long evalEvery, long logEvery, int trainSize, int testSize, String device,
                          boolean skipNonFinite, double agc, long maxConsecutiveSkips, List<Map<String, Object>> chain,
                          String precision, String guard, String clipAdaptive, String lossScale) {

    public static final List<String> MODELS = List.of("mlp", "resmlp", "rnn", "lstm", "gru", "transformer");
    public static final List<String> TASKS = List.of("spirals", "spirals-hard", "adding", "temporal-order", "teacher-student", "copy", "sort");
    public static final List<String> OPTIMIZERS = List.of("sgd", "adam", "adamw");
    public static final List<String> SCHEDULES = List.of("constant", "cosine", "step");
    public static final List<String> INITS = List.of("pytorch", "xavier", "kaiming", "normal:<std>");
    public static final List<String> ACTIVATIONS = List.of("tanh", "relu", "gelu");
    public static final List<String> DEVICES = List.of("auto", "cpu", "cuda");
    public static final List<String> PRECISIONS = List.of("fp32", "bf16", "fp16");
    public static final List<String> LOSS_SCALES = List.of("dynamic", "none", "<static scale>");
    /** Every key, in record order. */
    public static final List<String> KEYS = List.of("model", "task", "steps", "batch", "lr", "optimizer", "momentum",
            "weightDecay", "clip", "clipValue", "schedule", "warmup", "seed", "depth", "width", "hidden", "layers", "heads",
            "seqLen", "vocab", "init", "activation", "evalEvery", "logEvery", "trainSize", "testSize", "device",
            "skipNonFinite", "agc", "maxConsecutiveSkips", "chain", "precision", "guard", "clipAdaptive", "lossScale");
    /** The keys the default chain is built from; an explicit {@code chain} replaces them. */
    public static final List<String> CHAIN_KEYS = List.of("skipNonFinite", "agc", "clipValue", "clip", "guard", "clipAdaptive");
    /** What {@code clipAdaptive} takes. */
    public static final String CLIP_ADAPTIVE_ALLOWED = "agc:<ratio> (e.g. agc:0.01), autoclip:<percentile> (e.g. autoclip:10), zclip:<z> (e.g. zclip:2.5)";

    public TrainConfig {
        model = choice("model", model, MODELS);
        task = choice("task", task, TASKS);
        optimizer = choice("optimizer", optimizer, OPTIMIZERS);
        schedule = choice("schedule", schedule, SCHEDULES);
        activation = choice("activation", activation, ACTIVATIONS);
        device = choice("device", device, DEVICES);
        precision = choice("precision", precision, PRECISIONS);
        lossScale = lossScale == null ? null : lossScale.strip().toLowerCase(Locale.ROOT);
        parseLossScale(lossScale);
        init = init == null ? null : init.strip().toLowerCase(Locale.ROOT);
        parseInit(init);
        atLeast("steps", steps, 1);
        atLeast("batch", batch, 1);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new ConfigException("lr", "lr must be a finite number > 0, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) throw new ConfigException("momentum", "momentum must be in [0, 1), got " + momentum);
        nonNegative("weightDecay", weightDecay);
        nonNegative("clip", clip);
        nonNegative("clipValue", clipValue);
        nonNegative("agc", agc);
        atLeast("maxConsecutiveSkips", maxConsecutiveSkips, 0);
        if (maxConsecutiveSkips > Integer.MAX_VALUE)
            throw new ConfigException("maxConsecutiveSkips", "maxConsecutiveSkips is out of range: " + maxConsecutiveSkips);
        guard = guard == null || guard.isBlank() ? null : guard.strip().toLowerCase(Locale.ROOT);
        clipAdaptive = clipAdaptive == null || clipAdaptive.isBlank() ? null : clipAdaptive.strip().toLowerCase(Locale.ROOT);
        if (guard != null) {
            try {
                dev.ballast.stability.chain.ChainSpec.validate(List.of(guardOp(guard)));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("guard", e.getMessage().replaceFirst("^chain\\[0\\] \\(guard\\): ", ""));
            }
        }
        if (clipAdaptive != null) clipAdaptiveOp(clipAdaptive);
        if (chain != null) {
            List<Map<String, Object>> copy = new java.util.ArrayList<>();
            for (Map<String, Object> o : chain) copy.add(o == null ? null : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(o)));
            chain = java.util.Collections.unmodifiableList(copy);
            try {
                dev.ballast.stability.chain.ChainSpec.validate(chain);
            } catch (IllegalArgumentException e) {
                throw new ConfigException("chain", e.getMessage());
            }
            if (!precision.equals("fp16") || lossScale.equals("none"))
                for (Map<String, Object> o : chain)
                    if ("unscale".equals(o.get("op")) && !o.containsKey("scale"))
                        throw new ConfigException("chain", "chain: {\"op\": \"unscale\"} without a scale unscales by the run's loss"
                                + " scaler, which only precision fp16 has, unless its lossScale is none (this run is " + precision
                                + (precision.equals("fp16") ? " with lossScale none" : "") + "); give it a \"scale\" or use fp16");
        }
        atLeast("warmup", warmup, 0);
        atLeast("depth", depth, 1);
        atLeast("width", width, 1);
        atLeast("hidden", hidden, 1);
        atLeast("layers", layers, 1);
        atLeast("heads", heads, 1);
        atLeast("vocab", vocab, 2);
        atLeast("evalEvery", evalEvery, 0);
        atLeast("logEvery", logEvery, 1);
        atLeast("testSize", testSize, 1);
        atLeast("seqLen", seqLen, switch (task) {
            case "temporal-order" -> 10; // the paper's windows scaled to the length need at least 10 steps
            case "adding" -> 2;
            default -> 1;
        });
        if (trainSize < (task.startsWith("spirals") ? Math.max(2, batch) : batch))
            throw new ConfigException("trainSize", "trainSize (" + trainSize + ") must be at least the batch (" + batch + ")"
                    + (task.startsWith("spirals") ? " and at least 2" : ""));
        if (model.equals("transformer") && width % heads != 0)
            throw new ConfigException("heads", "heads: the transformer's width (" + width + ") must be a multiple of heads ("
                    + heads + "); try heads " + largestDivisorAtMost(width, heads));
    }

    /** The calibrated settings of {@code task}, the ones that reach the must-show results. */
    public static TrainConfig defaults(String task) {
        String t = choice("task", task, TASKS);
        return switch (t) {
            // 20-layer tanh MLP, Xavier with the tanh gain: PyTorch reaches 99.9% in 3,000 steps
            case "spirals" -> new TrainConfig("mlp", t, 3000, 128, 1e-3, "adam", 0, 0, 0, 0, "constant", 0, 0,
                    20, 64, 128, 1, 4, 50, 10, "xavier", "tanh", 0, 10, 4000, 2000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            // 2 turns: the demo's depth story; a 20-layer ReLU MLP with He init reached 99.9% at step 300 (of 1,000)
            case "spirals-hard" -> new TrainConfig("mlp", t, 600, 128, 1e-3, "adam", 0, 0, 0, 0, "constant", 0, 0,
                    20, 64, 128, 1, 4, 50, 10, "kaiming", "relu", 0, 10, 4000, 2000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            // LSTM 128 with grad-norm clip 1.0 on T=50: PyTorch gets under 0.01 MSE within ~2,000-2,500 steps; 3,000 leaves margin
            case "adding" -> new TrainConfig("lstm", t, 3000, 64, 1e-3, "adam", 0, 0, 1.0, 0, "constant", 0, 0,
                    2, 64, 128, 1, 4, 50, 10, "pytorch", "tanh", 0, 10, 50_000, 2000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            case "temporal-order" -> new TrainConfig("lstm", t, 2000, 64, 1e-3, "adam", 0, 0, 1.0, 0, "constant", 0, 0,
                    2, 64, 64, 1, 4, 50, 10, "pytorch", "tanh", 0, 10, 20_000, 2000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            case "teacher-student" -> new TrainConfig("mlp", t, 2000, 64, 1e-3, "adam", 0, 0, 0, 0, "constant", 0, 0,
                    2, 64, 64, 1, 4, 50, 10, "pytorch", "tanh", 0, 10, 10_000, 2000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            // a 2-layer causal transformer, decoder style (see SequenceTasks)
            case "copy" -> new TrainConfig("transformer", t, 500, 64, 1e-3, "adam", 0, 0, 1.0, 0, "constant", 0, 0,
                    2, 64, 64, 2, 4, 8, 10, "pytorch", "gelu", 0, 10, 20_000, 1000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            case "sort" -> new TrainConfig("transformer", t, 1500, 64, 1e-3, "adam", 0, 0, 1.0, 0, "constant", 0, 0,
                    2, 64, 64, 2, 4, 8, 10, "pytorch", "gelu", 0, 10, 20_000, 1000, "auto", true, 0, 0, null, "fp32", null, null, "dynamic");
            default -> throw new IllegalStateException(t);
        };
    }

    /**
     * The task's defaults (task from {@code settings}, else "spirals") with every entry of {@code settings} applied.
     * Values may be strings (parsed) or numbers; a key outside {@link #KEYS} or a value of the wrong kind throws a
     * {@link ConfigException}.
     */
    public static TrainConfig resolve(Map<String, ?> settings) { return resolve(Map.of(), settings); }

    /**
     * The task's defaults, then {@code base} (e.g. a resumed checkpoint's settings), then {@code given} (the user's).
     * A given setting the run would ignore (e.g. heads for an mlp) and a size this machine cannot hold are
     * {@link ConfigException}s too.
     */
    public static TrainConfig resolve(Map<String, ?> base, Map<String, ?> given) {
        Map<String, Object> settings = new LinkedHashMap<>(base);
        settings.putAll(given);
        for (String k : settings.keySet())
            if (!KEYS.contains(k)) throw new ConfigException(k, "unknown key '" + k + "'; allowed keys: " + String.join(", ", KEYS));
        Object task = settings.get("task");
        Map<String, Object> m = defaults(task == null ? "spirals" : String.valueOf(task)).toMap();
        m.putAll(settings);
        TrainConfig c = build(m);
        ConfigChecks.checkApplies(c, given.keySet());
        ConfigChecks.checkSizes(c, ConfigChecks.machineMemory());
        return c;
    }

    private static TrainConfig build(Map<String, Object> m) {
        return new TrainConfig(str(m, "model"), str(m, "task"), lng(m, "steps"), integer(m, "batch"), dbl(m, "lr"),
                str(m, "optimizer"), dbl(m, "momentum"), dbl(m, "weightDecay"), dbl(m, "clip"), dbl(m, "clipValue"),
                str(m, "schedule"), lng(m, "warmup"), lng(m, "seed"), integer(m, "depth"), integer(m, "width"),
                integer(m, "hidden"), integer(m, "layers"), integer(m, "heads"), integer(m, "seqLen"), integer(m, "vocab"),
                str(m, "init"), str(m, "activation"), lng(m, "evalEvery"), lng(m, "logEvery"), integer(m, "trainSize"),
                integer(m, "testSize"), str(m, "device"), bool(m, "skipNonFinite"), dbl(m, "agc"), lng(m, "maxConsecutiveSkips"),
                chainList(m), str(m, "precision"), optionalStr(m, "guard"), optionalStr(m, "clipAdaptive"),
                lossScaleSpec(m.get("lossScale")));
    }

    /** Every setting by key, in {@link #KEYS} order. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        Object[] v = {model, task, steps, batch, lr, optimizer, momentum, weightDecay, clip, clipValue, schedule, warmup,
                seed, depth, width, hidden, layers, heads, seqLen, vocab, init, activation, evalEvery, logEvery, trainSize,
                testSize, device, skipNonFinite, agc, maxConsecutiveSkips, chain, precision, guard, clipAdaptive, lossScale};
        for (int i = 0; i < v.length; i++) m.put(KEYS.get(i), v[i]);
        return m;
    }

    /** Whether setting {@code key} changes this run (e.g. {@code heads} does nothing for an mlp). */
    public boolean applies(String key) { return ConfigChecks.applies(this, key); }

    /**
     * The chain in effect, as data: {@code chain} when given, else the links the keys ask for in the fixed order
     * unscale (precision fp16 unless lossScale is none), guard, skip non-finite, adaptive clipping (agc, then clipAdaptive), clip by value, clip by
     * norm (the optimizer's apply is not listed). With precision fp16 the chain starts with {@code {"op": "unscale"}}
     * (the run's loss scaler: the overflow check, the division by the scale folded into the optimizer's pass, the skip
     * and the scale update), added in front of an explicit chain that has no {@code unscale} of its own.
     */
    public List<Map<String, Object>> effectiveChain() {
        boolean scaled = lossScaled();
        if (chain != null) {
            if (!scaled || chain.stream().anyMatch(o -> "unscale".equals(o.get("op")))) return chain;
            List<Map<String, Object>> out = new java.util.ArrayList<>(List.of(Map.of("op", "unscale")));
            out.addAll(chain);
            return java.util.Collections.unmodifiableList(out);
        }
        List<Map<String, Object>> out = new java.util.ArrayList<>();
        if (scaled) out.add(Map.of("op", "unscale"));
        if (guard != null) out.add(guardOp(guard));
        if (skipNonFinite) out.add(Map.of("op", "skip_nonfinite"));
        if (agc > 0) out.add(ordered("op", "agc", "clipping", agc, "eps", 1e-3));
        if (clipAdaptive != null) out.add(clipAdaptiveOp(clipAdaptive));
        if (clipValue > 0) out.add(ordered("op", "clip_value", "value", clipValue));
        if (clip > 0) out.add(ordered("op", "clip_norm", "max_norm", clip, "norm_type", 2.0));
        return java.util.Collections.unmodifiableList(out);
    }

    /** The chain op of a {@code guard} setting: the explosion guard with these policies and default settings. */
    static Map<String, Object> guardOp(String policies) { return ordered("op", "guard", "policies", policies); }

    /** The chain op of a {@code clipAdaptive} setting ({@code agc:0.01}, {@code autoclip:10}, {@code zclip:2.5}). */
    static Map<String, Object> clipAdaptiveOp(String spec) {
        int colon = spec.indexOf(':');
        String kind = colon < 0 ? spec : spec.substring(0, colon);
        if (colon < 0 || !List.of("agc", "autoclip", "zclip").contains(kind))
            throw new ConfigException("clipAdaptive", "clipAdaptive: '" + spec + "' is not one of " + CLIP_ADAPTIVE_ALLOWED);
        double v;
        try {
            v = Double.parseDouble(spec.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new ConfigException("clipAdaptive", "clipAdaptive: the value in '" + spec + "' must be a number; allowed: " + CLIP_ADAPTIVE_ALLOWED);
        }
        if (!(v > 0) || Double.isInfinite(v) || (kind.equals("autoclip") && v > 100))
            throw new ConfigException("clipAdaptive", "clipAdaptive: the value in '" + spec + "' must be > 0"
                    + (kind.equals("autoclip") ? " and <= 100" : "") + "; allowed: " + CLIP_ADAPTIVE_ALLOWED);
        return switch (kind) {
            case "agc" -> ordered("op", "agc", "clipping", v, "eps", 1e-3);
            case "autoclip" -> ordered("op", "autoclip", "percentile", v);
            default -> ordered("op", "zclip", "z", v);
        };
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Evaluation interval: {@code evalEvery}, or a tenth of the steps (at least 1) when it is 0. */
    public long effectiveEvalEvery() { return evalEvery > 0 ? evalEvery : Math.max(1, steps / 10); }

    /** The weight init of linear layers; Xavier and Kaiming use the activation's gain (relu's for gelu). */
    public WeightInit weightInit() {
        String nonlinearity = activation.equals("gelu") ? "relu" : activation;
        return switch (init) {
            case "pytorch" -> WeightInit.pytorchDefault();
            case "xavier" -> WeightInit.xavierUniform(Init.calculateGain(nonlinearity));
            case "kaiming" -> WeightInit.kaimingNormal(nonlinearity);
            default -> WeightInit.normal(parseInit(init));
        };
    }

    /** Whether the run scales its loss: precision fp16 with a lossScale other than none. */
    public boolean lossScaled() { return precision.equals("fp16") && !lossScale.equals("none"); }

    /** The static loss scale of {@code lossScale} when it is a number; NaN for dynamic and none. */
    public double staticLossScale() { return parseLossScale(lossScale); }

    /** Validates a loss-scale spec; returns the static scale it names (NaN for dynamic and none). */
    private static double parseLossScale(String spec) {
        if (spec == null) throw new ConfigException("lossScale", "lossScale is missing; allowed: " + String.join(", ", LOSS_SCALES));
        if (spec.equals("dynamic") || spec.equals("none")) return Double.NaN;
        double v;
        try {
            v = Double.parseDouble(spec);
        } catch (NumberFormatException e) {
            v = Double.NaN;
        }
        if (v > 0 && Double.isFinite(v)) return v;
        throw new ConfigException("lossScale", "lossScale: '" + spec + "' is not dynamic, none or a finite number > 0 (a static scale, e.g. 1024)");
    }

    /** Validates an init spec; returns the std of {@code normal:<std>} (NaN for the others). */
    private static double parseInit(String init) {
        if (init == null) throw new ConfigException("init", "init is missing; allowed: " + String.join(", ", INITS));
        if (init.equals("pytorch") || init.equals("xavier") || init.equals("kaiming")) return Double.NaN;
        if (init.startsWith("normal:")) {
            String s = init.substring("normal:".length());
            double std;
            try {
                std = Double.parseDouble(s);
            } catch (NumberFormatException e) {
                std = Double.NaN;
            }
            if (std > 0 && Double.isFinite(std)) return std;
            throw new ConfigException("init", "init: the std in '" + init + "' must be a finite number > 0 (e.g. normal:0.02)");
        }
        throw new ConfigException("init", "init: '" + init + "' is not one of " + String.join(", ", INITS));
    }

    private static String choice(String key, String value, List<String> allowed) {
        if (value == null) throw new ConfigException(key, key + " is missing; allowed: " + String.join(", ", allowed));
        String v = value.strip().toLowerCase(Locale.ROOT);
        if (!allowed.contains(v))
            throw new ConfigException(key, key + ": '" + value + "' is not one of " + String.join(", ", allowed));
        return v;
    }

    private static void atLeast(String key, long v, long min) {
        if (v < min) throw new ConfigException(key, key + " must be >= " + min + ", got " + v);
    }

    private static void nonNegative(String key, double v) {
        if (!(v >= 0) || Double.isInfinite(v))
            throw new ConfigException(key, key + " must be a finite number >= 0 (0 = off), got " + v);
    }

    private static int largestDivisorAtMost(int n, int k) {
        for (int d = Math.min(n, k); d > 1; d--) if (n % d == 0) return d;
        return 1;
    }

    /** lossScale as given: a string (dynamic, none, a number) or a number (a static scale); absent = dynamic. */
    private static String lossScaleSpec(Object v) {
        if (v == null) return "dynamic";
        if (v instanceof Number n) return Double.toString(n.doubleValue());
        if (v instanceof String s) return s;
        throw new ConfigException("lossScale", "lossScale must be dynamic, none or a number, got " + describe(v));
    }

    private static String str(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof String s) return s;
        throw new ConfigException(key, key + " must be a string, got " + describe(v));
    }

    private static double dbl(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof Number n) return n.doubleValue();
        if (v instanceof String s) {
            try {
                return Double.parseDouble(s.strip());
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new ConfigException(key, key + " must be a number, got " + describe(v));
    }

    private static long lng(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) return ((Number) v).longValue();
        if (v instanceof java.math.BigInteger b && b.bitLength() < 64) return b.longValue();
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 9e15)
            return (long) n.doubleValue(); // 3e3 in a JSON file is a whole number
        if (v instanceof String s) {
            try {
                return Long.parseLong(s.strip());
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new ConfigException(key, key + " must be a whole number, got " + describe(v));
    }

    private static int integer(Map<String, Object> m, String key) {
        long v = lng(m, key);
        if (v != (int) v) throw new ConfigException(key, key + " is out of range: " + v);
        return (int) v;
    }

    private static boolean bool(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof Boolean b) return b;
        if (v instanceof String s && (s.strip().equalsIgnoreCase("true") || s.strip().equalsIgnoreCase("false")))
            return Boolean.parseBoolean(s.strip());
        throw new ConfigException(key, key + " must be true or false, got " + describe(v));
    }

    private static String optionalStr(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null || v instanceof String) return (String) v;
        throw new ConfigException(key, key + " must be a string, got " + describe(v));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> chainList(Map<String, Object> m) {
        Object v = m.get("chain");
        if (v == null) return null;
        if (v instanceof List<?> list) {
            for (Object o : list)
                if (!(o instanceof Map<?, ?>))
                    throw new ConfigException("chain", "chain must be a list of {\"op\": ...} objects, got element " + describe(o));
            return (List<Map<String, Object>>) v;
        }
        throw new ConfigException("chain", "chain must be a list of {\"op\": ...} objects, e.g. [{\"op\": \"clip_norm\", \"max_norm\": 1}], got " + describe(v));
    }

    private static String describe(Object v) {
        return v instanceof String s ? "'" + s + "'" : String.valueOf(v);
    }
}
