package dev.ballast.train.health;

import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Batch;
import dev.ballast.stability.monitor.GradientMonitor;
import dev.ballast.stability.monitor.HealthSnapshot;
import dev.ballast.stability.monitor.ParamStats;
import dev.ballast.train.Trainer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@link GradientMonitor} as a trainer hook: due steps are read after the optimizer ran, and the next metrics line
 * carries the reading under {@code health} (per parameter: grad_norm, weight_norm, update_ratio, max_abs_grad,
 * zero_fraction, non_finite_fraction) with {@code health_step} and {@code grad_global_norm}. Under fp16 the monitor
 * divides its readings by the loss scale of their step ({@code GradientMonitor.lossScale}, set by the health session).
 */
final class MonitorHook implements Trainer.StepHook {
    private final GradientMonitor monitor;
    private HealthSnapshot unlogged;
    private HealthSnapshot latest;

    MonitorHook(GradientMonitor monitor) { this.monitor = monitor; }

    GradientMonitor monitor() { return monitor; }

    /** The latest reading (null before the first). */
    HealthSnapshot latest() { return latest; }

    @Override public boolean beforeStep(long step, Batch batch, Tensor loss) {
        monitor.beforeStep(step);
        return true;
    }

    @Override public void afterStep(long step, boolean applied) {
        HealthSnapshot s = monitor.afterStep(step);
        if (s != null) {
            unlogged = s;
            latest = s;
        }
    }

    @Override public void onLog(long step, Map<String, Object> line) {
        if (unlogged == null) return;
        line.put("health_step", unlogged.step());
        line.put("grad_global_norm", num(unlogged.globalGradNorm()));
        Map<String, Object> per = new LinkedHashMap<>();
        for (ParamStats p : unlogged.params()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("grad_norm", num(p.gradNorm()));
            m.put("weight_norm", num(p.weightNorm()));
            m.put("update_ratio", num(p.updateRatio()));
            m.put("max_abs_grad", num(p.maxAbsGrad()));
            m.put("zero_fraction", p.zeroFraction());
            m.put("non_finite_fraction", p.nonFiniteFraction());
            per.put(p.name(), m);
        }
        line.put("health", per);
        unlogged = null;
    }

    static Object num(double v) {
        if (Double.isFinite(v)) return v;
        return Double.isNaN(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
    }
}
