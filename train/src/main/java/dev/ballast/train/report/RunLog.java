package dev.ballast.train.report;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything the report shows about one run: its {@code name} (a directory-safe id), a {@code title} for people,
 * the settings it ran with, the names of the layers whose gradient norms were recorded (weight matrices, input
 * side first), the clip threshold (0 = no clipping), the logged steps in order, the findings and a summary of
 * results by name (e.g. "test accuracy", "diverged at step"). {@code divergedAt} is the step whose loss was not
 * finite, or 0 when the run finished.
 */
public record RunLog(String name, String title, Map<String, Object> config, List<String> layers, double clip,
                     List<StepRecord> steps, List<Finding> findings, Map<String, Object> summary, long divergedAt) {
    public RunLog {
        if (name == null || !name.matches("[A-Za-z0-9._-]+"))
            throw new IllegalArgumentException("run name must be letters, digits, '.', '_' or '-', got '" + name + "'");
        config = config == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(config));
        layers = List.copyOf(layers);
        steps = List.copyOf(steps);
        findings = List.copyOf(findings);
        summary = summary == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(summary));
    }

    /** This run with other findings. */
    public RunLog withFindings(List<Finding> f) {
        return new RunLog(name, title, config, layers, clip, steps, f, summary, divergedAt);
    }

    /** Whether any step ran with a loss scale. */
    public boolean scaled() {
        return steps.stream().anyMatch(s -> !Double.isNaN(s.lossScale()));
    }

    /** The largest finite global gradient norm recorded (NaN when none). */
    public double maxGradNorm() {
        double m = Double.NaN;
        for (StepRecord s : steps) if (Double.isFinite(s.gradNorm()) && !(s.gradNorm() <= m)) m = s.gradNorm();
        return m;
    }

    /** The last recorded value of test metric {@code name} (NaN when never evaluated). */
    public double lastEval(String metric) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            Double v = steps.get(i).eval().get(metric);
            if (v != null) return v;
        }
        return Double.NaN;
    }

    /** Skipped steps among the logged ones. */
    public long skippedLogged() { return steps.stream().filter(StepRecord::skipped).count(); }
}
