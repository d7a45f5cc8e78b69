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
 * of pytorch-clip-scaler-cases.json) through Ballast's real code path on a device, and compares every value
 * with |actual - expected| <= 1e-5 |expected| + 1e-6.
 */
public final class ReferenceCases {
    /** The comparison tolerance, relative and absolute. */
    public static final double RTOL = 1e-5, ATOL = 1e-6;

    /** One case: its kind, its index within the kind, and its JSON. */
    public record Case(String kind, int index, JsonNode json) {
        public String name() { return kind + "[" + index + "]"; }
    }

    /** The outcome of one case on one device. */
    public record Result(Case testCase, String device, Status status, String detail) {}

    public enum Status { PASSED, FAILED, SKIPPED }

    private final List<Case> cases;

    private ReferenceCases(List<Case> cases) { this.cases = cases; }

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
            throw new IOException(file + ": expected a JSON object with keys clip, clip_value and/or scaler");
        List<Case> cases = new ArrayList<>();
        var names = root.fieldNames();
        while (names.hasNext()) {
            String kind = names.next();
            if (!List.of("clip", "clip_value", "scaler").contains(kind))
                throw new IOException(file + ": unknown case kind '" + kind + "' (allowed: clip, clip_value, scaler)");
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
        if (cases.isEmpty()) throw new IOException(file + ": holds no cases (expected lists under clip, clip_value and/or scaler)");
        return new ReferenceCases(cases);
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
            default -> throw new IllegalArgumentException("unknown kind");
        }
    }

    public List<Case> cases() { return cases; }

    /** Runs one case on a device; a malformed case fails with a message rather than throwing. */
    public static Result run(Case c, Device device) {
        try (Scope s = Scope.open()) {
            return switch (c.kind()) {
                case "clip" -> clip(c, device);
                case "clip_value" -> clipValue(c, device);
                case "scaler" -> scaler(c, device);
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

    private static JsonNode field(JsonNode c, String name) {
        JsonNode n = c.get(name);
        if (n == null || n.isNull()) throw new IllegalArgumentException("missing '" + name + "'");
        return n;
    }

    private static double[] doubles(JsonNode list) {
        double[] v = new double[list.size()];
        for (int i = 0; i < v.length; i++) v[i] = number(list.get(i));
        return v;
    }

    private static double number(JsonNode n) {
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
