package dev.ballast.stability.guard;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.ParamGroup;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Watches each step's loss and global gradient norm (read on the host: one sync per step) and acts on spikes and
 * non-finite values with its {@link GuardPolicy}s. A non-finite value is never applied: without a rollback policy the
 * step is skipped. A spike is skipped ({@code skip}), rolled back ({@code rollback}: weights and optimizer state from
 * the last good in-memory snapshot, and the batch skipped), and/or answered with a lower learning rate for a while
 * ({@code backoff:F:N}; alone it lets the spiking step through at the lower rate). Snapshots are taken every
 * {@code snapshotEvery} steps, only after that many steps without an event, so a rollback lands on a state that
 * trained quietly.
 *
 * <p>Use: {@code if (guard.check(step, loss, norm)) optimizer.step(); guard.after(step, applied);}.
 */
public final class ExplosionGuard implements AutoCloseable {
    /** Spike threshold (z-score), EMA factor, warm-up steps before z-scores count, and snapshot interval. */
    public record Settings(double zThreshold, double beta, long warmup, long snapshotEvery) {
        public Settings {
            if (!(zThreshold > 0)) throw new IllegalArgumentException("guard: z threshold must be > 0, got " + zThreshold);
            if (snapshotEvery < 1) throw new IllegalArgumentException("guard: snapshotEvery must be >= 1, got " + snapshotEvery);
        }

        /** z > 6 against an EMA with beta 0.95, after 20 steps; a snapshot every 10 quiet steps. */
        public static Settings defaults() { return new Settings(6, 0.95, 20, 10); }
    }

    private final List<GuardPolicy> policies;
    private final Map<String, Tensor> params;
    private final Optimizer optimizer;
    private final Settings settings;
    private final SpikeDetector lossSpikes, gradSpikes;
    private final List<GuardEvent> events = new ArrayList<>();
    private Map<String, Tensor> snapshotParams;
    private Map<String, Tensor> snapshotOptimizer;
    private long snapshotStep = -1;
    private long lastEventStep = Long.MIN_VALUE / 2;
    private long backoffLeft;
    private double backoffFactor = 1;
    private double[] savedLr;
    private dev.ballast.engine.backend.LrSchedule savedSchedule;
    private long skipped, rollbacks;

    public ExplosionGuard(List<GuardPolicy> policies, Map<String, Tensor> params, Optimizer optimizer, Settings settings) {
        if (policies.isEmpty()) throw new IllegalArgumentException("guard: at least one policy; allowed: " + GuardPolicy.ALLOWED);
        this.policies = List.copyOf(policies);
        this.params = new LinkedHashMap<>(params);
        this.optimizer = optimizer;
        this.settings = settings;
        this.lossSpikes = new SpikeDetector(settings.beta(), settings.zThreshold(), settings.warmup());
        this.gradSpikes = new SpikeDetector(settings.beta(), settings.zThreshold(), settings.warmup());
    }

    private <T extends GuardPolicy> T policy(Class<T> c) {
        for (GuardPolicy p : policies) if (c.isInstance(p)) return c.cast(p);
        return null;
    }

    /**
     * Judges step {@code step} from its loss and pre-clip global gradient norm; returns whether the step should be
     * applied. May roll weights and optimizer state back, and sets this step's learning rate while backing off.
     */
    public boolean check(long step, double loss, double gradNorm) {
        if (step == 1 && snapshotStep < 0) snapshot(0); // the initial state is the first good one
        String cause = null;
        double value = Double.NaN, z = Double.NaN;
        if (!Double.isFinite(loss)) {
            cause = "non-finite-loss";
            value = loss;
        } else if (!Double.isFinite(gradNorm)) {
            cause = "non-finite-grad";
            value = gradNorm;
        } else {
            double zl = lossSpikes.zScore(loss), zg = gradSpikes.zScore(gradNorm);
            boolean ls = lossSpikes.observe(loss), gs = gradSpikes.observe(gradNorm);
            if (ls) {
                cause = "loss-spike";
                value = loss;
                z = zl;
            } else if (gs) {
                cause = "grad-spike";
                value = gradNorm;
                z = zg;
            }
        }
        boolean apply = true;
        if (cause != null) {
            List<String> did = new ArrayList<>();
            boolean nonFinite = cause.startsWith("non-finite");
            GuardPolicy.Backoff backoff = policy(GuardPolicy.Backoff.class);
            if (policy(GuardPolicy.Rollback.class) != null) {
                restore();
                rollbacks++;
                did.add("rolled back to step " + snapshotStep + ", skipped the batch");
                apply = false;
            } else if (policy(GuardPolicy.Skip.class) != null || nonFinite || backoff == null) {
                did.add("skipped the step");
                apply = false;
            }
            if (backoff != null) {
                backoffLeft = backoff.steps();
                backoffFactor = backoff.factor();
                did.add("lr x" + backoff.factor() + " for " + backoff.steps() + " steps" + (apply ? " (this step applied at the lower lr)" : ""));
            }
            if (!apply) skipped++;
            lastEventStep = step;
            events.add(new GuardEvent(step, cause, value, z, String.join(", ", did)));
        }
        if (apply && backoffLeft > 0) {
            // this step's lr (from the schedule when one is set) times the factor, as a constant for this one step
            List<ParamGroup> groups = optimizer.paramGroups();
            savedSchedule = optimizer.schedule();
            long taken = savedSchedule == null ? 0 : optimizer.stepCount();
            savedLr = new double[groups.size()];
            double[] lr = new double[groups.size()];
            for (int i = 0; i < groups.size(); i++) {
                savedLr[i] = groups.get(i).lr();
                lr[i] = savedSchedule == null ? savedLr[i] : savedSchedule.lr(taken, groups.get(i).baseLr());
            }
            if (savedSchedule != null) optimizer.setSchedule(null);
            for (int i = 0; i < groups.size(); i++) groups.get(i).setLr(lr[i] * backoffFactor);
        }
        return apply;
    }

    /** After the step: restores the learning rate of a backed-off step and takes a snapshot when one is due. */
    public void after(long step, boolean applied) {
        if (savedLr != null) {
            List<ParamGroup> groups = optimizer.paramGroups();
            for (int i = 0; i < groups.size(); i++) groups.get(i).setLr(savedLr[i]);
            if (savedSchedule != null) optimizer.setSchedule(savedSchedule); // also brings the groups' lr up to date
            savedLr = null;
            savedSchedule = null;
            backoffLeft--;
        }
        if (applied && policy(GuardPolicy.Rollback.class) != null && step - lastEventStep >= settings.snapshotEvery()
                && step - snapshotStep >= settings.snapshotEvery())
            snapshot(step);
    }

    private void snapshot(long step) {
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            Map<String, Tensor> p = new LinkedHashMap<>(), o = new LinkedHashMap<>();
            for (var e : params.entrySet()) p.put(e.getKey(), Scope.detachFromScopes(e.getValue().copy()));
            for (var e : optimizer.stateDict().entrySet()) o.put(e.getKey(), Scope.detachFromScopes(e.getValue().copy()));
            freeSnapshot();
            snapshotParams = p;
            snapshotOptimizer = o;
            snapshotStep = step;
        }
    }

    private void restore() {
        if (snapshotParams == null) return;
        try (GradMode.Guard ng = GradMode.noGrad(); Scope s = Scope.open()) {
            for (var e : params.entrySet()) e.getValue().copyFrom(snapshotParams.get(e.getKey()));
            optimizer.loadStateDict(snapshotOptimizer);
        }
    }

    private void freeSnapshot() {
        if (snapshotParams != null) snapshotParams.values().forEach(Tensor::close);
        if (snapshotOptimizer != null) snapshotOptimizer.values().forEach(Tensor::close);
        snapshotParams = null;
        snapshotOptimizer = null;
    }

    /** Every event so far, in order. */
    public List<GuardEvent> events() { return List.copyOf(events); }

    /** Steps the guard kept from being applied (skipped or rolled back). */
    public long skipped() { return skipped; }

    /** Rollbacks done. */
    public long rollbacks() { return rollbacks; }

    /** The policies, in the order given. */
    public List<GuardPolicy> policies() { return policies; }

    @Override public void close() { freeSnapshot(); }
}
