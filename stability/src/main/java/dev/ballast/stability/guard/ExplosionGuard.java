package dev.ballast.stability.guard;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.stability.chain.Gradients;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.chain.LinkState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The explosion guard as a link of the gradient chain: watches each step's loss ({@link Gradients#loss()}) and the
 * global L2 norm of the gradients where it stands for non-finite values and for spikes (a z-score above
 * {@code zThreshold} against an exponential moving average of mean and variance, after {@code warmup} values), and
 * answers with its {@link GuardPolicy}s. Every decision is made on the device: no host read per step.
 *
 * <ul>
 * <li>A non-finite loss or gradient is never applied: the step is skipped, or rolled back with {@code rollback}.</li>
 * <li>{@code skip}: a spiking step is skipped (weights and optimizer state bit-identical).</li>
 * <li>{@code rollback}: the training state is restored from the last good snapshot ({@link Snapshot}), device copies refreshed
 *     every {@code snapshotEvery} steps when that many steps and the present one passed without an event, and the
 *     batch is skipped.</li>
 * <li>{@code backoff:F:N}: an lr backoff as {@code ReduceLROnPlateau} users know it, on the device: each event cuts the
 *     effective learning rate by F from its step on ({@link Gradients#scaleLearningRate}: the fused update multiplies
 *     its learning rate by the factor, torch's lowered lr, so momentum buffers and Adam's moments take the gradients as
 *     they are and AdamW's decoupled decay is scaled with the lr); cuts compound when events follow each other (down to {@value #MIN_LR_FACTOR}); after N steps
 *     without an event one cut is undone, and again after every N quiet steps, back to the full rate. Alone (without
 *     skip or rollback) a spiking step is applied with its gradient norm clipped to the spike threshold (mean + z * std
 *     of the norm's average), so the momentum buffer takes a gradient of the usual size, not the spike, and the spike is
 *     folded into the averages at the threshold (as ZClip does), so a level that has really moved stops counting as
 *     spikes; a non-finite step is skipped.</li>
 * </ul>
 * Values judged spikes (except under backoff alone, above), and steps with a non-finite value, are not folded into the
 * averages, so one spike does not raise the bar for the next. A step that an earlier link already skips (an fp16 overflow caught by the loss
 * scaler's unscale link) is left to that link: no event, nothing folded in. Under data-parallel training the chain
 * sees the averaged gradients and the trainer passes the loss averaged over the ranks, so every rank decides alike.
 *
 * <p>State (saved with the chain in checkpoints): the two averages ({@code loss_mean}, {@code loss_var},
 * {@code loss_seen}, {@code grad_*}), {@code steps}, {@code quiet} (steps since the last event), {@code lr_factor} and
 * {@code backoff_left} (quiet steps until one cut is undone),
 * {@code counts} (events, steps kept out, rollbacks, spiking steps applied clipped, steps a rollback undid,
 * steps applied since the snapshot), {@code by_cause}, the step of the snapshot, and a ring {@code log} of the last
 * {@value #LOG_SIZE} events (step, cause, value, z, action, snapshot step; all finite, as checkpoints require: the
 * value of a non-finite cause and the z of a non-spike are written as 0). The snapshot itself is scratch memory, not
 * checkpointed: a restored run takes a fresh one from the weights it resumed from. A rollback restores the whole
 * training state, as a run that never took the undone steps would have it: weights, the optimizer's moments, buffers and
 * step count (so Adam's bias correction and the learning-rate schedule are where they were), and every link's training
 * state (a loss scaler's scale and growth tracker, adaptive clipping's averages); counters of what happened (the
 * scaler's overflow count, the chain's skip counts) and the guard's own state (its averages are observations of the
 * run's noise, see {@link #counters()}) are kept.
 */
public final class ExplosionGuard implements Link {
    /** Events kept in the device-side log between two reads; older ones are counted but their details dropped. */
    public static final int LOG_SIZE = 64;
    static final int LOG_COLUMNS = 6;
    /** Indices into {@code counts}. */
    static final int EVENTS = 0, KEPT_OUT = 1, ROLLBACKS = 2, CLIPPED = 3, UNDONE = 4, SINCE_SNAPSHOT = 5, COUNTS = 6;
    /** Cause codes in the log (index into {@code by_cause}; 0 = none). */
    static final List<String> CAUSES = List.of("none", "non-finite-loss", "non-finite-grad", "loss-spike", "grad-spike");
    /** Action codes in the log. */
    static final int SKIPPED = 1, ROLLED_BACK = 2, CLIPPED_TO_THRESHOLD = 3;

    /** Spike threshold (z-score), EMA factor, warm-up values before z-scores count, and snapshot interval. */
    public record Settings(double zThreshold, double beta, long warmup, long snapshotEvery) {
        public Settings {
            if (!(zThreshold > 0) || Double.isInfinite(zThreshold))
                throw new IllegalArgumentException("guard: z threshold must be a finite number > 0, got " + zThreshold);
            if (!(beta > 0 && beta < 1)) throw new IllegalArgumentException("guard: beta must be in (0, 1), got " + beta);
            if (warmup < 1) throw new IllegalArgumentException("guard: warmup must be >= 1, got " + warmup);
            if (snapshotEvery < 1) throw new IllegalArgumentException("guard: snapshotEvery must be >= 1, got " + snapshotEvery);
        }

        /** z > 6 against an EMA with beta 0.95, after 20 values; a snapshot every 10 quiet steps. */
        public static Settings defaults() { return new Settings(6, 0.95, 20, 10); }
    }

    private final List<GuardPolicy> policies;
    private final Settings settings;
    private final boolean rollback, skip;
    private final GuardPolicy.Backoff backoff;

    public ExplosionGuard(List<GuardPolicy> policies, Settings settings) {
        if (policies.isEmpty()) throw new IllegalArgumentException("guard: at least one policy; allowed: " + GuardPolicy.ALLOWED);
        this.policies = List.copyOf(policies);
        this.settings = java.util.Objects.requireNonNull(settings, "guard settings");
        this.rollback = policy(GuardPolicy.Rollback.class) != null;
        this.skip = policy(GuardPolicy.Skip.class) != null;
        this.backoff = policy(GuardPolicy.Backoff.class);
    }

    /** The guard for a policy list such as {@code rollback,backoff:0.5:100}, with the default settings. */
    public static ExplosionGuard parse(String policies) { return new ExplosionGuard(GuardPolicy.parse(policies), Settings.defaults()); }

    private <T extends GuardPolicy> T policy(Class<T> c) {
        for (GuardPolicy p : policies) if (c.isInstance(p)) return c.cast(p);
        return null;
    }

    public List<GuardPolicy> policies() { return policies; }

    public Settings settings() { return settings; }

    /** The backoff policy, or null. */
    GuardPolicy.Backoff backoff() { return backoff; }

    @Override public boolean readsLoss() { return true; }

    @Override public OptionalDouble readsNorm() { return OptionalDouble.of(2); }

    @Override public NonFiniteSteps nonFiniteSteps() { return NonFiniteSteps.RECOVERED; }

    /**
     * All of the guard's state is kept by its own rollbacks: besides its counters, its averages are observations of
     * the run's noise, not training state: the steps a rollback undoes were real draws of the loss and gradient norm,
     * and a guard rolled back to a shorter history would judge the next steps against a too narrow spread (spurious
     * events). The training it guards still continues exactly as a run that never took the undone steps.
     */
    @Override public Set<String> counters() { return STATE; }

    private static final Set<String> STATE = Set.of("loss_mean", "loss_var", "loss_seen", "grad_mean", "grad_var", "grad_seen",
            "steps", "quiet", "backoff_left", "log_next", "snapshot_step", "lr_factor", "counts", "by_cause", "log");

    /** The smallest learning-rate factor compounding backoffs reach (keeps a run that spikes on and on moving). */
    static final double MIN_LR_FACTOR = 1e-3;

    @Override public boolean restoresState() { return rollback; }

    @Override public LinkState init(List<Tensor> params) {
        Device d = params.isEmpty() ? Device.auto() : params.getFirst().device();
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String k : List.of("loss_mean", "loss_var", "loss_seen", "grad_mean", "grad_var", "grad_seen", "steps", "quiet",
                "backoff_left", "log_next"))
            m.put(k, Tensor.zeros(d, DType.F64));
        m.put("snapshot_step", Tensor.zeros(d, DType.F64));
        m.put("lr_factor", Tensor.ones(d, DType.F64));
        m.put("counts", Tensor.zeros(d, DType.F64, COUNTS));
        m.put("by_cause", Tensor.zeros(d, DType.F64, CAUSES.size()));
        m.put("log", Tensor.zeros(d, DType.F64, LOG_SIZE, LOG_COLUMNS));
        return LinkState.of(m);
    }

    @Override public void update(Gradients g, LinkState s) {
        Device d = g.device();
        Tensor zero = Tensor.zeros(d, DType.F64);
        // a step an earlier link already keeps out (a loss scaler's overflow) is not the guard's to judge
        Tensor mine = g.skipFlag().to(DType.F64).rsub(1);
        Tensor norm = g.norm(2).to(DType.F64);
        Tensor gradBad = g.nonFinite().to(DType.F64).maximum(norm.isFinite().rsub(1)).mul(mine);
        Tensor loss = g.loss() == null ? null : g.loss().to(DType.F64);
        Tensor lossBad = loss == null ? zero : loss.isFinite().rsub(1).mul(mine);
        Tensor bad = lossBad.maximum(gradBad);
        Tensor lm = s.get("loss_mean"), lv = s.get("loss_var"), ls = s.get("loss_seen");
        Tensor gm = s.get("grad_mean"), gv = s.get("grad_var"), gs = s.get("grad_seen");
        Tensor lossX = loss == null ? lm : Tensor.where(bad, lm, loss), gradX = Tensor.where(bad, gm, norm);
        Tensor zl = zScore(lossX, lm, lv, ls), zg = zScore(gradX, gm, gv, gs);
        Tensor good = bad.rsub(1).mul(mine);
        Tensor lossSpike = loss == null ? zero : zl.gt(settings.zThreshold()).mul(good);
        Tensor gradSpike = zg.gt(settings.zThreshold()).mul(good);
        Tensor cause = Tensor.where(lossBad, Tensor.scalar(d, DType.F64, 1), Tensor.where(gradBad, Tensor.scalar(d, DType.F64, 2),
                Tensor.where(lossSpike, Tensor.scalar(d, DType.F64, 3), Tensor.where(gradSpike, Tensor.scalar(d, DType.F64, 4), zero))));
        Tensor event = cause.gt(0).to(DType.F64);
        Tensor steps = s.get("steps"), quiet = s.get("quiet"), counts = s.get("counts");
        Tensor stepBefore = steps.copy(), quietBefore = quiet.copy();
        // the snapshot is refreshed before this step changes any state (the guard's own averages included)
        Tensor taken = rollback ? Snapshot.refresh(g, s, quietBefore, event, settings.snapshotEvery()) : null;
        // what to do: keep the step out, roll back, or (backoff alone, on a spike) apply it with its gradient norm
        // clipped to the spike threshold; a backoff cuts the learning rate
        boolean clipSpikes = backoff != null && !rollback && !skip;
        Tensor lossThreshold = lm.add(spread(lm, lv).mul(settings.zThreshold()));
        Tensor gradThreshold = gm.add(spread(gm, gv).mul(settings.zThreshold()));
        if (clipSpikes) {
            // a spike that is applied (clipped) is folded in at the threshold, as ZClip does: the averages follow a
            // level that has really moved (an event at every step forever would freeze the run at the smallest lr)
            if (loss != null) observe(Tensor.where(lossSpike, lossThreshold, lossX), lm, lv, ls, good);
            observe(Tensor.where(gradSpike, gradThreshold, gradX), gm, gv, gs, good);
        } else {
            if (loss != null) observe(lossX, lm, lv, ls, good.mul(lossSpike.rsub(1)));
            observe(gradX, gm, gv, gs, good.mul(gradSpike.rsub(1)));
        }

        Tensor keepOut = clipSpikes ? bad : event;
        Tensor rolledBack = rollback ? event : zero;
        Tensor clipped = clipSpikes ? event.mul(bad.rsub(1)) : zero;
        Tensor lrFactor = null;
        if (backoff != null) {
            Tensor one = Tensor.ones(d, DType.F64);
            if (clipSpikes) g.clip(Tensor.where(clipped, gradThreshold.div(gradX.add(1e-6)).minimum(1.0), one).to(DType.F32));
            // ReduceLROnPlateau-like: each event cuts the learning rate by F (cuts compound, down to MIN_LR_FACTOR); after
            // N steps without an event one cut is undone, and again every N quiet steps, back to the full rate
            Tensor factor = s.get("lr_factor");
            lrFactor = Tensor.where(event, factor.mul(backoff.factor()).maximum(MIN_LR_FACTOR), factor);
            g.scaleLearningRate(lrFactor.to(DType.F32));
        }
        g.skipIf(keepOut);

        Tensor snapshotStep = s.get("snapshot_step");
        if (rollback) {
            Tensor sinceSnapshot = counts.select(0, SINCE_SNAPSHOT);
            snapshotStep.copyFrom(Tensor.where(taken, stepBefore, snapshotStep));
            Tensor since = Tensor.where(taken, zero, sinceSnapshot);
            Snapshot.restore(g, s, rolledBack);
            Tensor undone = Tensor.where(rolledBack, since, zero);
            since = Tensor.where(rolledBack, zero, since.add(keepOut.rsub(1)));
            Tensor add = Tensor.stack(List.of(event, keepOut, rolledBack, clipped, undone, zero), 0);
            Tensor next = counts.add(add);
            counts.copyFrom(Tensor.concat(List.of(next.narrow(0, 0, SINCE_SNAPSHOT), since.reshape(1)), 0));
        } else {
            counts.copyFrom(counts.add(Tensor.stack(List.of(event, keepOut, rolledBack, clipped, zero, zero), 0)));
        }
        steps.copyFrom(steps.add(1));
        quiet.copyFrom(Tensor.where(event, zero, quiet.add(1)));
        if (backoff != null) {
            Tensor left = s.get("backoff_left"), n = Tensor.scalar(d, DType.F64, backoff.steps());
            Tensor counted = left.sub(1).maximum(0);
            Tensor raise = event.eq(0).mul(counted.eq(0)).mul(lrFactor.lt(1)).gt(0);
            Tensor raised = lrFactor.div(backoff.factor());
            raised = Tensor.where(raised.gt(1 - 1e-9), Tensor.ones(d, DType.F64), raised);
            Tensor next = Tensor.where(raise, raised, lrFactor);
            s.get("lr_factor").copyFrom(next);
            left.copyFrom(Tensor.where(event, n, Tensor.where(raise, Tensor.where(next.lt(1), n, zero), counted)));
        }
        Tensor byCause = s.get("by_cause");
        byCause.copyFrom(byCause.add(Tensor.arange(d, DType.F64, 0, CAUSES.size(), 1).eq(cause).mul(event)));

        // the event's record in the ring log
        Tensor isLoss = cause.eq(1).add(cause.eq(3)).gt(0);
        // checkpoints hold finite numbers only: a non-finite value is written as 0 (its cause says what it was)
        Tensor value = Tensor.where(bad, zero, Tensor.where(isLoss, loss == null ? zero : lossX, gradX));
        Tensor z = Tensor.where(cause.eq(3), zl, Tensor.where(cause.eq(4), zg, zero));
        Tensor action = Tensor.where(rolledBack, Tensor.scalar(d, DType.F64, ROLLED_BACK),
                Tensor.where(keepOut, Tensor.scalar(d, DType.F64, SKIPPED), Tensor.scalar(d, DType.F64, CLIPPED_TO_THRESHOLD)));
        Tensor row = Tensor.stack(List.of(steps.copy(), cause, value, z, action, snapshotStep.copy()), 0).reshape(1, LOG_COLUMNS);
        Tensor log = s.get("log"), logNext = s.get("log_next");
        Tensor mask = Tensor.arange(d, DType.F64, 0, LOG_SIZE, 1).eq(logNext).mul(event).reshape(LOG_SIZE, 1);
        log.copyFrom(Tensor.where(mask, row, log));
        Tensor after = logNext.add(1);
        logNext.copyFrom(Tensor.where(event, Tensor.where(after.ge(LOG_SIZE), zero, after), logNext));
    }

    /** The z-score of {@code x} against mean and variance, 0 until {@code warmup} values were seen. */
    private Tensor zScore(Tensor x, Tensor mean, Tensor var, Tensor seen) {
        Tensor sd = spread(mean, var);
        return Tensor.where(seen.ge(settings.warmup()), x.sub(mean).div(sd), Tensor.zeros(x.device(), DType.F64));
    }

    /** The standard deviation a z-score divides by: at least a thousandth of the mean, so a flat series has a scale. */
    private static Tensor spread(Tensor mean, Tensor var) { return var.sqrt().maximum(mean.abs().mul(1e-3).add(1e-12)); }

    /** Folds {@code x} into the EMA where {@code use} is set (the first value sets the mean). */
    private void observe(Tensor x, Tensor mean, Tensor var, Tensor seen, Tensor use) {
        double b = settings.beta();
        Tensor first = seen.eq(0);
        Tensor dx = x.sub(mean);
        Tensor newMean = Tensor.where(first, x, mean.add(dx.mul(1 - b)));
        Tensor newVar = Tensor.where(first, Tensor.zeros(x.device(), DType.F64), var.add(dx.square().mul(1 - b)).mul(b));
        Tensor u = use.gt(0);
        mean.copyFrom(Tensor.where(u, newMean, mean));
        var.copyFrom(Tensor.where(u, newVar, var));
        seen.copyFrom(Tensor.where(u, seen.add(1), seen));
    }

    /** Reads the guard's counters and its log (one host read: do it where the caller syncs anyway). */
    public static GuardLog.Reading read(LinkState s) { return GuardLog.read(s); }

    /** The names of the causes, by code. */
    static String cause(int code) { return code >= 0 && code < CAUSES.size() ? CAUSES.get(code) : "cause " + code; }

    /** What the guard did for an action code, in words. */
    String action(int code, long snapshotStep) {
        List<String> did = new ArrayList<>();
        did.add(switch (code) {
            case ROLLED_BACK -> "rolled back to step " + snapshotStep + ", skipped the batch";
            case SKIPPED -> "skipped the step";
            default -> "applied with the gradient norm clipped to the spike threshold";
        });
        if (backoff != null) did.add("lr x" + backoff.factor() + " (one cut undone per " + backoff.steps() + " quiet steps)");
        return String.join(", ", did);
    }

    @Override public String toString() { return "ExplosionGuard" + policies; }
}
