package dev.ballast.stability.reference;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.clip.ClipGrad;
import dev.ballast.stability.scale.GradScaler;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Replays reference cases computed by PyTorch (the {@code clip}, {@code clip_value} and {@code scaler} kinds
 * of pytorch-clip-scaler-cases.json, the {@code chain} kind of pytorch-chain-cases.json) through Ballast's real
 * code path on a device, and compares every value with |actual - expected| <= rel |expected| + abs: the file's
 * top-level {@code tolerance} {@code {"abs": .., "rel": ..}} when it has one, else 1e-6 and 1e-5. Top-level
 * {@code tolerance} and {@code made_by} are metadata, allowed in every file.
 */
public final class ReferenceCases {
    /** The comparison tolerance, relative and absolute. */
    public static final double RTOL = 1e-5, ATOL = 1e-6;

    /** The metadata keys a file may have beside its case lists. */
    public static final List<String> METADATA = List.of("tolerance", "made_by");
    /** The case kinds. */
    public static final List<String> KINDS = List.of("clip", "clip_value", "scaler", "chain", "scaler_hysteresis");

    /** One case: its kind, its index within the kind, and its JSON. */
    public record Case(String kind, int index, JsonNode json) {
        /** The case's own {@code name} when it has one, else {@code kind[index]}. */
        public String name() {
            JsonNode n = json.get("name");
            return n != null && n.isTextual() ? n.asText() : kind + "[" + index + "]";
        }
    }

    /** |actual - expected| <= rel |expected| + abs; NaN and infinities must match exactly. */
    public record Tolerance(double abs, double rel) {
        public Tolerance {
            if (!(abs >= 0) || !(rel >= 0)) throw new IllegalArgumentException("tolerance abs and rel must be >= 0, got " + abs + ", " + rel);
        }

        /** Null when within tolerance, else a message naming {@code what}. */
        String compare(String what, double expected, double actual) {
            boolean ok = Double.isNaN(expected) ? Double.isNaN(actual)
                    : Double.isInfinite(expected) ? expected == actual
                    : Math.abs(actual - expected) <= rel * Math.abs(expected) + abs;
            return ok ? null : what + ": expected " + expected + ", got " + actual + " (tolerance abs " + abs + ", rel " + rel + ")";
        }
    }

    /** The outcome of one case on one device. */
    public record Result(Case testCase, String device, Status status, String detail) {}

    public enum Status { PASSED, FAILED, SKIPPED }

    private final List<Case> cases;
    private final Tolerance tolerance;

    private ReferenceCases(List<Case> cases, Tolerance tolerance) {
        this.cases = cases;
        this.tolerance = tolerance;
    }

    /** Strict JSON: one value, nothing after it, no key twice. */
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /**
     * Reads a case file; a file that is not such JSON, holds no case, or holds a case without the fields its kind
     * needs gets an IOException naming the file, the case and what is wrong.
     */
    public static ReferenceCases read(Path file) throws IOException {
        JsonNode root;
        try {
            root = STRICT.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not UTF-8 text (a JSON file must be UTF-8)");
        } catch (JacksonException e) {
            var at = e.getLocation();
            throw new IOException(file + ": not valid JSON" + (at == null || at.getLineNr() < 1 ? ""
                    : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")") + ": " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject())
            throw new IOException(file + ": expected a JSON object with case lists " + KINDS);
        List<Case> cases = new ArrayList<>();
        Tolerance tolerance = new Tolerance(ATOL, RTOL);
        JsonNode tol = root.get("tolerance");
        if (tol != null) {
            if (!tol.isObject() || !tol.path("abs").isNumber() || !tol.path("rel").isNumber())
                throw new IOException(file + ": 'tolerance' must be {\"abs\": number, \"rel\": number}, got " + tol);
            try {
                tolerance = new Tolerance(tol.get("abs").asDouble(), tol.get("rel").asDouble());
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage());
            }
        }
        var names = root.fieldNames();
        while (names.hasNext()) {
            String kind = names.next();
            if (METADATA.contains(kind)) continue;
            if (!KINDS.contains(kind))
                throw new IOException(file + ": unknown case kind '" + kind + "' (allowed: " + String.join(", ", KINDS)
                        + "; metadata: " + String.join(", ", METADATA) + ")");
            JsonNode list = root.get(kind);
            if (!list.isArray()) throw new IOException(file + ": '" + kind + "' must be a list of cases");
            for (int i = 0; i < list.size(); i++) {
                Case c = new Case(kind, i, list.get(i));
                try {
                    validate(c);
                } catch (IllegalArgumentException | ArithmeticException e) {
                    throw new IOException(file + ": malformed case " + c.name() + ": " + e.getMessage());
                }
                cases.add(c);
            }
        }
        if (cases.isEmpty()) throw new IOException(file + ": holds no cases (expected case lists " + KINDS + ")");
        return new ReferenceCases(cases, tolerance);
    }

    /** Checks a case has every field its kind reads, of the right kind and size. */
    private static void validate(Case c) {
        JsonNode j = c.json();
        if (!j.isObject()) throw new IllegalArgumentException("a case must be a JSON object, got " + j.getNodeType());
        switch (c.kind()) {
            case "clip", "clip_value" -> {
                JsonNode shapes = field(j, "shapes");
                if (!shapes.isArray() || shapes.isEmpty()) throw new IllegalArgumentException("'shapes' must be a non-empty list of shapes");
                long[] sizes = new long[shapes.size()];
                for (int i = 0; i < sizes.length; i++) {
                    JsonNode sh = shapes.get(i);
                    if (!sh.isArray()) throw new IllegalArgumentException("shapes[" + i + "] must be a list of sizes");
                    long n = 1;
                    for (JsonNode d : sh) {
                        if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0)
                            throw new IllegalArgumentException("shapes[" + i + "] must hold whole numbers >= 0, got " + sh);
                        n = Math.multiplyExact(n, d.asLong());
                    }
                    sizes[i] = n;
                }
                for (String list : new String[]{"grads", "clipped"}) {
                    JsonNode g = field(j, list);
                    if (!g.isArray() || g.size() != sizes.length)
                        throw new IllegalArgumentException("'" + list + "' must be a list of " + sizes.length + " value lists (one per shape)");
                    for (int i = 0; i < sizes.length; i++) {
                        if (!g.get(i).isArray() || g.get(i).size() != sizes[i])
                            throw new IllegalArgumentException(list + "[" + i + "] must hold " + sizes[i] + " values (shape " + shapes.get(i) + ")");
                        for (JsonNode v : g.get(i)) number(v);
                    }
                }
                for (String k : c.kind().equals("clip") ? new String[]{"max_norm", "norm_type", "total_norm"} : new String[]{"clip_value"})
                    number(field(j, k));
            }
            case "scaler" -> {
                for (String k : new String[]{"init_scale", "growth_factor", "backoff_factor"}) number(field(j, k));
                if (!field(j, "growth_interval").isIntegralNumber()) throw new IllegalArgumentException("'growth_interval' must be a whole number");
                JsonNode steps = field(j, "steps");
                if (!steps.isArray()) throw new IllegalArgumentException("'steps' must be a list");
                for (int i = 0; i < steps.size(); i++) {
                    JsonNode st = steps.get(i);
                    if (!st.isObject() || !field(st, "inf").isIntegralNumber() || !field(st, "stepped").isBoolean())
                        throw new IllegalArgumentException("steps[" + i + "] must be an object with 'inf' (0 or 1), 'stepped' (true/false)"
                                + " and 'scale_after'");
                    number(field(st, "scale_after"));
                }
            }
            default -> { } // other kinds (chain) check their fields as they run
        }
    }

    public List<Case> cases() { return cases; }

    /** The file's tolerance (its own, or the default). */
    public Tolerance tolerance() { return tolerance; }

    /** Runs one case on a device with the file's tolerance; a malformed case fails with a message rather than throwing. */
    public Result replay(Case c, Device device) { return run(c, device, tolerance); }

    /** Runs one case on a device with the default tolerance. */
    public static Result run(Case c, Device device) { return run(c, device, new Tolerance(ATOL, RTOL)); }

    private static Result run(Case c, Device device, Tolerance tolerance) {
        try (Scope s = Scope.open()) {
            return switch (c.kind()) {
                case "clip" -> clip(c, device);
                case "clip_value" -> clipValue(c, device);
                case "scaler" -> scaler(c, device);
                case "chain" -> ChainReference.run(c, device, tolerance);
                case "scaler_hysteresis" -> ScalerTrajectories.hysteresis(c, device);
                default -> new Result(c, device.name(), Status.FAILED, "unknown kind");
            };
        } catch (RuntimeException e) {
            return new Result(c, device.name(), Status.FAILED, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static List<Tensor> params(JsonNode c, Device device) {
        JsonNode shapes = field(c, "shapes"), grads = field(c, "grads");
        List<Tensor> params = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            long[] shape = new long[shapes.get(i).size()];
            for (int d = 0; d < shape.length; d++) shape[d] = shapes.get(i).get(d).asLong();
            Tensor p = Scope.keep(Tensor.zeros(device, DType.F32, shape)).requiresGrad(true);
            p.setGrad(Tensor.fromArray(device, DType.F32, doubles(grads.get(i)), shape));
            params.add(p);
        }
        return params;
    }

    static JsonNode field(JsonNode c, String name) {
        JsonNode n = c.get(name);
        if (n == null || n.isNull()) throw new IllegalArgumentException("missing '" + name + "'");
        return n;
    }

    static double[] doubles(JsonNode list) {
        double[] v = new double[list.size()];
        for (int i = 0; i < v.length; i++) v[i] = number(list.get(i));
        return v;
    }

    static double number(JsonNode n) {
        if (n.isTextual()) {
            return switch (n.asText().toLowerCase()) {
                case "inf", "infinity" -> Double.POSITIVE_INFINITY;
                case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
                case "nan" -> Double.NaN;
                default -> throw new IllegalArgumentException("not a number: " + n);
            };
        }
        if (!n.isNumber()) throw new IllegalArgumentException("not a number: " + n);
        return n.asDouble();
    }

    private static String compare(String what, double expected, double actual) {
        boolean ok = Double.isNaN(expected) ? Double.isNaN(actual)
                : Double.isInfinite(expected) ? expected == actual
                : Math.abs(actual - expected) <= RTOL * Math.abs(expected) + ATOL;
        return ok ? null : what + ": expected " + expected + ", got " + actual;
    }

    private static Result checkGrads(Case c, Device device, List<Tensor> params, String prefix) {
        JsonNode clipped = field(c.json(), "clipped");
        for (int i = 0; i < params.size(); i++) {
            double[] exp = doubles(clipped.get(i)), act = params.get(i).grad().toDoubleArray();
            for (int j = 0; j < exp.length; j++) {
                String bad = compare("grad " + i + "[" + j + "]", exp[j], act[j]);
                if (bad != null) return new Result(c, device.name(), Status.FAILED, bad);
            }
        }
        return new Result(c, device.name(), Status.PASSED, prefix);
    }

    private static Result clip(Case c, Device device) {
        List<Tensor> params = params(c.json(), device);
        double maxNorm = number(field(c.json(), "max_norm"));
        double normType = number(field(c.json(), "norm_type"));
        double total = ClipGrad.clipGradNorm(params, maxNorm, normType).item();
        String bad = compare("total_norm", number(field(c.json(), "total_norm")), total);
        if (bad != null) return new Result(c, device.name(), Status.FAILED, bad);
        return checkGrads(c, device, params, "norm " + total);
    }

    private static Result clipValue(Case c, Device device) {
        List<Tensor> params = params(c.json(), device);
        ClipGrad.clipGradValue(params, number(field(c.json(), "clip_value")));
        return checkGrads(c, device, params, "values clamped");
    }

    /** Replays the scaler's steps through a real chain (unscale, SGD) on one weight, checking scale and skips. */
    private static Result scaler(Case c, Device device) {
        JsonNode j = c.json();
        try (GradScaler scaler = new GradScaler(device, number(field(j, "init_scale")), number(field(j, "growth_factor")),
                number(field(j, "backoff_factor")), field(j, "growth_interval").asLong())) {
            Tensor w = Scope.keep(Tensor.fromArray(device, DType.F32, new double[]{1, -2, 3}, 3)).requiresGrad(true);
            SGD sgd = new SGD(List.of(w), 0.01);
            GradientChain chain = GradientChain.of(Link.unscale(scaler), Link.apply(sgd));
            JsonNode steps = field(j, "steps");
            for (int i = 0; i < steps.size(); i++) {
                JsonNode st = steps.get(i);
                double[] before = w.toDoubleArray();
                double scale = scaler.scale().item();
                double[] g = {0.5 * scale, -0.25 * scale, 0.125 * scale};
                if (st.get("inf").asInt() != 0) g[1] = Double.POSITIVE_INFINITY;
                w.setGrad(Tensor.fromArray(device, DType.F32, g, 3));
                chain.step();
                boolean stepped = !java.util.Arrays.equals(before, w.toDoubleArray());
                if (stepped != st.get("stepped").asBoolean())
                    return new Result(c, device.name(), Status.FAILED, "step " + i + ": stepped=" + stepped + ", expected " + st.get("stepped"));
                String bad = compare("step " + i + " scale", number(st.get("scale_after")), scaler.scale().item());
                if (bad != null) return new Result(c, device.name(), Status.FAILED, bad);
            }
            return new Result(c, device.name(), Status.PASSED, steps.size() + " steps");
        }
    }
}
