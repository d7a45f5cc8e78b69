package dev.ballast.stability.guard;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One guard event: the step, the cause ({@code loss-spike}, {@code grad-spike}, {@code non-finite-loss},
 * {@code non-finite-grad}), the value and its z-score (NaN for non-finite causes), and the action taken in words.
 */
public record GuardEvent(long step, String cause, double value, double zScore, String action) {
    /** As a metrics JSON object with a {@code guard} key. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("guard", cause);
        m.put("step", step);
        m.put("value", Double.isFinite(value) ? value : String.valueOf(value));
        m.put("z", Double.isFinite(zScore) ? zScore : String.valueOf(zScore));
        m.put("action", action);
        return m;
    }

    /** One line for people. */
    public String line() {
        return String.format(java.util.Locale.ROOT, "guard: step %d: %s %.4g%s: %s", step, cause, value,
                Double.isFinite(zScore) ? String.format(java.util.Locale.ROOT, " (z %.3g)", zScore) : "", action);
    }
}
