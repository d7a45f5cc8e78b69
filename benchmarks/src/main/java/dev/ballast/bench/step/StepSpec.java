package dev.ballast.bench.step;

import dev.ballast.engine.io.Json;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One benchmarked model: a name, a line saying what it is, and the fields both sides build it from (kind, sizes,
 * batch, optimizer, learning rate), the same JSON object for Ballast ({@link StepModels#build}) and for PyTorch
 * ({@code step_models.build}). Kinds: {@code mlp} (in, width, depth, out, act), {@code rnn} and {@code lstm} (time,
 * hidden, squeeze), {@code decoder} (vocab, time, width, layers, heads, final_norm); every kind has batch,
 * optimizer (adam, adamw or sgd), lr and, for sgd, momentum.
 */
public record StepSpec(String name, String description, Map<String, Object> fields) {
    public StepSpec {
        fields = Map.copyOf(fields);
        if (!fields.containsKey("kind")) throw new IllegalArgumentException("step model '" + name + "': no kind in " + fields);
    }

    /** A spec from the JSON object written by {@link #fieldsJson()} (as stored in the replay files). */
    public static StepSpec fromJson(String name, String json) {
        return new StepSpec(name, name, Json.parseObject(json));
    }

    public String kind() { return text("kind"); }

    public int integer(String key) { return ((Number) require(key)).intValue(); }

    public double number(String key) { return ((Number) require(key)).doubleValue(); }

    public String text(String key) { return (String) require(key); }

    public boolean flag(String key) { return (Boolean) require(key); }

    private Object require(String key) {
        Object v = fields.get(key);
        if (v == null) throw new IllegalArgumentException("step model '" + name + "' (" + fields.get("kind") + ") needs '" + key + "'");
        return v;
    }

    /** The fields as one JSON object, in a stable order. */
    public String fieldsJson() { return Json.write(new java.util.TreeMap<>(fields)); }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
