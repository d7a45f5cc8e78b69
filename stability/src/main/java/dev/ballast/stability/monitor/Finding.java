package dev.ballast.stability.monitor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One diagnosis: its {@code kind} (one of {@link #KINDS}), where it was seen ({@code "run"} or a parameter name),
 * what was seen in words with the numbers, the cures that apply, and the numbers themselves by name.
 */
public record Finding(String kind, String where, String seen, List<String> cures, Map<String, Object> numbers) {
    /** The kinds, as printed. */
    public static final List<String> KINDS = List.of("exploding", "vanishing", "dead-units", "saturation", "non-finite");

    public Finding {
        if (!KINDS.contains(kind)) throw new IllegalArgumentException("finding kind '" + kind + "' is not one of " + KINDS);
        cures = List.copyOf(cures);
        numbers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(numbers));
    }

    /** {@code diagnosis: <kind>: <what was seen>; cures: <list>}. */
    public String line() { return "diagnosis: " + kind + ": " + seen + "; cures: " + String.join(", ", cures); }

    /** The finding as a metrics JSON object: {@code finding}, {@code where}, {@code seen}, {@code cures}, then the numbers. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("finding", kind);
        m.put("where", where);
        m.put("seen", seen);
        m.put("cures", cures);
        for (var e : numbers.entrySet()) {
            Object v = e.getValue();
            m.put(e.getKey(), v instanceof Double d && !Double.isFinite(d) ? String.valueOf(d) : v);
        }
        return m;
    }
}
