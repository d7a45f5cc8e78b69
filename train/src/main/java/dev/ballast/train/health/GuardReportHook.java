package dev.ballast.train.health;

import dev.ballast.stability.guard.GuardEvent;
import dev.ballast.stability.guard.GuardLog;
import dev.ballast.train.Trainer;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reports the explosion guard of the run's chain on logged steps, where the trainer has just synced: polls its log
 * (one small read, which also starts or ends a learning-rate backoff), prints each new event, and adds the guard's
 * counters to the metrics line under {@code guard}. Nothing is read on other steps.
 */
final class GuardReportHook implements Trainer.StepHook {
    private final GuardLog log;
    private final PrintWriter out;

    GuardReportHook(GuardLog log, PrintWriter out) {
        this.log = log;
        this.out = out;
    }

    GuardLog log() { return log; }

    @Override public void onLog(long step, Map<String, Object> line) {
        for (GuardEvent e : log.poll()) if (out != null) out.println(e.line());
        if (out != null) out.flush();
        GuardLog.Reading r = log.last();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("events", r.events());
        m.put("kept_out", r.keptOut());
        m.put("rollbacks", r.rollbacks());
        m.put("backoff_left", r.backoffLeft());
        m.put("lr_factor", r.lrFactor());
        line.put("guard", m);
    }
}
