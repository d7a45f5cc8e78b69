package dev.ballast.stability.guard;

import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.stability.chain.LinkState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The host side of an {@link ExplosionGuard}: {@link #poll()} reads the guard's counters and new events from the
 * device in one read (call it where the training loop syncs anyway, e.g. on logged steps) and keeps every event.
 * It changes nothing: the guard's decisions, backoff included, are made and applied on the device.
 */
public final class GuardLog {
    /**
     * The counters at one read; {@code lrFactor} is the learning-rate factor of the backoff for the next step (1 when
     * none is on) and {@code backoffLeft} the quiet steps until one cut is undone.
     */
    public record Reading(long steps, long events, long keptOut, long rollbacks, long clipped, long undone,
                          Map<String, Long> byCause, long backoffLeft, double lrFactor, List<double[]> log, long logNext) {
        /** Steps whose update was applied (some later undone by a rollback: {@link #undone}). */
        public long applied() { return steps - keptOut; }
    }

    private final ExplosionGuard guard;
    private final LinkState state;
    private final List<GuardEvent> events = new ArrayList<>();
    private Reading last;
    private long dropped;

    /** The log of {@code guard}, whose state is {@code state} (from {@code chain.stateOf(guard)}). */
    public GuardLog(ExplosionGuard guard, LinkState state) {
        this.guard = guard;
        this.state = state;
    }

    /** Reads the counters and log of a guard's state: one host read. */
    static Reading read(LinkState s) {
        List<String> small = List.of("steps", "backoff_left", "log_next", "lr_factor");
        List<Tensor> parts = new ArrayList<>();
        for (String k : small) parts.add(s.get(k).reshape(1));
        parts.add(s.get("counts"));
        parts.add(s.get("by_cause"));
        parts.add(s.get("log").reshape(ExplosionGuard.LOG_SIZE * ExplosionGuard.LOG_COLUMNS));
        double[] v = Tensor.concat(parts.stream().map(t -> t.to(DType.F64)).toList(), 0).toDoubleArray();
        int o = small.size();
        long[] c = new long[ExplosionGuard.COUNTS];
        for (int i = 0; i < c.length; i++) c[i] = (long) v[o + i];
        o += c.length;
        Map<String, Long> byCause = new LinkedHashMap<>();
        for (int i = 1; i < ExplosionGuard.CAUSES.size(); i++) byCause.put(ExplosionGuard.CAUSES.get(i), (long) v[o + i]);
        o += ExplosionGuard.CAUSES.size();
        List<double[]> log = new ArrayList<>();
        for (int r = 0; r < ExplosionGuard.LOG_SIZE; r++) {
            double[] row = new double[ExplosionGuard.LOG_COLUMNS];
            System.arraycopy(v, o + r * row.length, row, 0, row.length);
            log.add(row);
        }
        return new Reading((long) v[0], c[ExplosionGuard.EVENTS], c[ExplosionGuard.KEPT_OUT], c[ExplosionGuard.ROLLBACKS],
                c[ExplosionGuard.CLIPPED], c[ExplosionGuard.UNDONE], byCause, (long) v[1], v[3], log, (long) v[2]);
    }

    /**
     * Reads the guard (one host read) and returns the events since the last poll in order. More than {@value ExplosionGuard#LOG_SIZE} events between two polls keep their
     * count but the details of the oldest are dropped ({@link #dropped()}).
     */
    public List<GuardEvent> poll() {
        Reading r = read(state);
        long before = events.size() + dropped;
        List<GuardEvent> fresh = new ArrayList<>();
        long first = Math.max(before, r.events() - ExplosionGuard.LOG_SIZE);
        dropped += first - before;
        for (long e = first; e < r.events(); e++) {
            double[] row = r.log().get((int) (e % ExplosionGuard.LOG_SIZE));
            int cause = (int) row[1];
            boolean nonFinite = cause == 1 || cause == 2, spike = cause == 3 || cause == 4;
            fresh.add(new GuardEvent((long) row[0], ExplosionGuard.cause(cause), nonFinite ? Double.NaN : row[2], spike ? row[3] : Double.NaN,
                    guard.action((int) row[4], (long) row[5])));
        }
        events.addAll(fresh);
        last = r;
        return fresh;
    }

    /** The latest reading (null before the first poll). */
    public Reading last() { return last; }

    /** Every event polled so far, in order. */
    public List<GuardEvent> events() { return List.copyOf(events); }

    /** Events counted on the device whose details were overwritten before a poll read them. */
    public long dropped() { return dropped; }

    public ExplosionGuard guard() { return guard; }
}
