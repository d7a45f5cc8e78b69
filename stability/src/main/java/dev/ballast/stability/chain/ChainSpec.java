package dev.ballast.stability.chain;

import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardPolicy;
import dev.ballast.stability.scale.GradScaler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A chain written as data, as in a config file or a reference file: a list of {@code {"op": ..., args}} objects in
 * order, e.g. {@code [{"op": "clip_value", "value": 1}, {"op": "clip_norm", "max_norm": 1}]}. The vocabulary is the
 * reference files' plus what the trainer needs:
 * <ul>
 * <li>{@code unscale}: with {@code scale}, a plain multiplication by 1/scale; without, the run's loss scaler
 *     ({@link Link#unscale}, needs one);</li>
 * <li>{@code skip_nonfinite}; {@code clip_value} {@code value}; {@code clip_norm} {@code max_norm}, {@code norm_type}
 *     (a number or "inf", default 2); {@code agc} {@code clipping}, {@code eps} (default 1e-3);</li>
 * <li>{@code guard} {@code policies} (e.g. "rollback,backoff:0.5:100"), {@code z} (default 6), {@code beta} (0.95),
 *     {@code warmup} (20), {@code snapshot_every} (10): the explosion guard;</li>
 * <li>{@code zclip} {@code z}, {@code alpha} (default 0.97), {@code warmup} (25); {@code autoclip} {@code percentile},
 *     {@code history} (default 10000).</li>
 * </ul>
 * Every op is checked with its arguments: an unknown op, a missing or extra argument, or a bad value throws an
 * IllegalArgumentException naming the position and what is allowed.
 */
public final class ChainSpec {
    private ChainSpec() {}

    /** The known ops and their arguments (required first; optional ones have defaults). */
    public static final Map<String, List<String>> OPS = ops();

    private static Map<String, List<String>> ops() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("unscale", List.of("scale?"));
        m.put("skip_nonfinite", List.of());
        m.put("agc", List.of("clipping", "eps?"));
        m.put("clip_value", List.of("value"));
        m.put("clip_norm", List.of("max_norm", "norm_type?"));
        m.put("guard", List.of("policies", "z?", "beta?", "warmup?", "snapshot_every?"));
        m.put("zclip", List.of("z", "alpha?", "warmup?"));
        m.put("autoclip", List.of("percentile", "history?"));
        return java.util.Collections.unmodifiableMap(m);
    }

    /** What links are built with: the run's loss scaler (null when the run does not scale the loss). */
    public record Context(GradScaler scaler) {}

    /** Checks every op and argument (without a scaler: {@code unscale} without {@code scale} is accepted here). */
    public static void validate(List<Map<String, Object>> spec) {
        build(spec, null, false);
    }

    /** The links of {@code spec}, in order, built in {@code context}. */
    public static List<Link> links(List<Map<String, Object>> spec, Context context) {
        return build(spec, context, true);
    }

    private static List<Link> build(List<Map<String, Object>> spec, Context context, boolean make) {
        if (spec == null) throw new IllegalArgumentException("chain: expected a list of {\"op\": ...} objects, got null");
        List<Link> links = new ArrayList<>();
        for (int i = 0; i < spec.size(); i++) {
            Map<String, Object> o = spec.get(i);
            String at = "chain[" + i + "]";
            if (o == null || !(o.get("op") instanceof String opName))
                throw new IllegalArgumentException(at + ": expected an object with a string \"op\" (one of " + String.join(", ", OPS.keySet()) + "), got " + o);
            String op = opName.strip().toLowerCase(Locale.ROOT);
            List<String> args = OPS.get(op);
            if (args == null)
                throw new IllegalArgumentException(at + ": unknown op '" + opName + "'; allowed: " + String.join(", ", OPS.keySet()));
            Set<String> allowed = new java.util.HashSet<>(List.of("op"));
            for (String a : args) allowed.add(a.replace("?", ""));
            for (String k : o.keySet())
                if (!allowed.contains(k))
                    throw new IllegalArgumentException(at + " (" + op + "): unknown argument '" + k + "'; allowed: " + args);
            for (String a : args)
                if (!a.endsWith("?") && !o.containsKey(a))
                    throw new IllegalArgumentException(at + " (" + op + "): missing argument '" + a + "'");
            try {
                Link l = switch (op) {
                    case "unscale" -> {
                        if (o.containsKey("scale")) {
                            double s = number(o.get("scale"), "scale");
                            if (!(s > 0) || Double.isInfinite(s)) throw new IllegalArgumentException("scale must be a finite number > 0, got " + s);
                            yield Link.scaleBy(1 / s);
                        }
                        if (!make) yield null;
                        if (context == null || context.scaler() == null)
                            throw new IllegalArgumentException("unscale without 'scale' needs the run's loss scaler (fp16 precision)");
                        yield Link.unscale(context.scaler());
                    }
                    case "skip_nonfinite" -> Link.skipIfNonFinite();
                    case "agc" -> Link.adaptiveClip(number(o.get("clipping"), "clipping"),
                            o.containsKey("eps") ? number(o.get("eps"), "eps") : 1e-3);
                    case "clip_value" -> Link.clipByValue(number(o.get("value"), "value"));
                    case "clip_norm" -> Link.clipByGlobalNorm(number(o.get("max_norm"), "max_norm"),
                            o.containsKey("norm_type") ? number(o.get("norm_type"), "norm_type") : 2);
                    case "guard" -> {
                        if (!(o.get("policies") instanceof String p))
                            throw new IllegalArgumentException("policies must be a string such as \"rollback,backoff:0.5:100\", got " + o.get("policies"));
                        ExplosionGuard.Settings d = ExplosionGuard.Settings.defaults();
                        yield new ExplosionGuard(GuardPolicy.parse(p), new ExplosionGuard.Settings(
                                o.containsKey("z") ? number(o.get("z"), "z") : d.zThreshold(),
                                o.containsKey("beta") ? number(o.get("beta"), "beta") : d.beta(),
                                o.containsKey("warmup") ? whole(o.get("warmup"), "warmup") : d.warmup(),
                                o.containsKey("snapshot_every") ? whole(o.get("snapshot_every"), "snapshot_every") : d.snapshotEvery()));
                    }
                    case "zclip" -> new ZClip(number(o.get("z"), "z"), o.containsKey("alpha") ? number(o.get("alpha"), "alpha") : 0.97,
                            o.containsKey("warmup") ? whole(o.get("warmup"), "warmup") : 25);
                    case "autoclip" -> new AutoClip(number(o.get("percentile"), "percentile"),
                            o.containsKey("history") ? (int) Math.min(Integer.MAX_VALUE, whole(o.get("history"), "history")) : AutoClip.DEFAULT_HISTORY);
                    default -> throw new IllegalStateException(op);
                };
                if (l != null) links.add(l);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(at + " (" + op + "): " + e.getMessage(), e);
            }
        }
        return links;
    }

    /** A whole number (3, 3.0 or "3"). */
    static long whole(Object v, String what) {
        double d = number(v, what);
        if (d != Math.rint(d) || Double.isInfinite(d)) throw new IllegalArgumentException(what + " must be a whole number, got " + v);
        return (long) d;
    }

    /** A number, or a string holding one ("inf" and "infinity" included). */
    static double number(Object v, String what) {
        if (v instanceof Number n) return n.doubleValue();
        if (v instanceof String s) {
            String t = s.strip().toLowerCase(Locale.ROOT);
            if (t.equals("inf") || t.equals("infinity")) return Double.POSITIVE_INFINITY;
            try {
                return Double.parseDouble(t);
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new IllegalArgumentException(what + " must be a number, got " + v);
    }
}
