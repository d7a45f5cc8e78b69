package dev.ballast.engine.optim;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Updates parameters in place from their gradients. Parameters are grouped ({@link ParamGroup}), each group with
 * its own learning rate and weight decay; every parameter also has a global index (its position across the
 * groups, in order) that names its state in {@link #stateDict()} as {@code state.<index>.<name>}, plus the entry
 * {@code step}, the number of steps taken.
 *
 * <p>Three parts: the update math is the subclass's ({@link #update}, the composed per-parameter path, and its one
 * fused hook {@link #fusedUpdate()}); the fused dispatch with its device-side step counters is
 * {@link FusedDispatch}; the state tensors and the state dict are {@link OptimizerState}.
 *
 * <p>Per-parameter state tensors (moments, momentum buffers) are owned by the optimizer: they are removed from
 * every {@link Scope} and updated in place outside autograd; {@link #close()} frees them. A parameter whose
 * gradient is null is left alone in a step (its state does not move), as in torch. Not thread-safe.
 */
public abstract class Optimizer implements AutoCloseable {
    private final List<ParamGroup> groups;
    private final List<Tensor> params = new ArrayList<>();
    private final int[] groupOf;
    private final long[] paramSteps;
    private final FusedDispatch fused = new FusedDispatch();
    private OptimizerState state;  // made on first use: it asks the subclass for its state names
    private long steps;
    private boolean closed;
    private LrSchedule schedule;
    private WorkingCopies workingCopies; // F16/BF16 copies of the parameters for autocast, or null

    protected Optimizer(List<ParamGroup> groups) {
        if (groups.isEmpty()) throw new IllegalArgumentException("an optimizer needs at least one parameter group");
        this.groups = List.copyOf(groups);
        List<Integer> owner = new ArrayList<>();
        for (int g = 0; g < this.groups.size(); g++) {
            for (Tensor p : this.groups.get(g).params()) {
                for (Tensor q : params)
                    if (q == p) throw new IllegalArgumentException("a parameter appears twice in the optimizer (shape "
                            + Arrays.toString(p.shape()) + ")");
                params.add(p);
                owner.add(g);
            }
        }
        groupOf = owner.stream().mapToInt(Integer::intValue).toArray();
        paramSteps = new long[params.size()];
    }

    /** One group holding {@code params}. */
    protected static List<ParamGroup> single(List<Tensor> params, double lr, double weightDecay) {
        return List.of(new ParamGroup(params, lr, weightDecay));
    }

    public List<ParamGroup> paramGroups() { return groups; }

    /** Every parameter, in index order. */
    public List<Tensor> params() { return List.copyOf(params); }

    /** Steps taken (skipped steps do not count). After fused steps this reads the device counter: a sync. */
    public long stepCount() {
        syncStepsFromDevice();
        return steps;
    }

    /**
     * Sets the learning-rate schedule (null: each group's current lr, constant). It is evaluated from the count of
     * taken steps, so skipped steps do not move it, with each group's base lr as its peak: by the fused kernels on
     * the device (no host read), and on the host for the composed path; the two use the same arithmetic. Each
     * group's {@code lr()} follows the schedule whenever the host learns the step count.
     */
    public void setSchedule(LrSchedule schedule) {
        this.schedule = schedule;
        updateGroupLrs();
    }

    /** The schedule set by {@link #setSchedule}, or null. */
    public LrSchedule schedule() { return schedule; }

    /** Clears every parameter's gradient (torch's zero_grad(set_to_none=True)). */
    public void zeroGrad() {
        for (Tensor p : params) p.zeroGrad();
    }

    /** One update from the current gradients; returns true (a plain step is never skipped). */
    public boolean step() { return step(null, null); }

    /**
     * One update with every gradient multiplied by {@code coefficient} (0-d, may be null), unless {@code skip}
     * (0-d, may be null) is nonzero: then weights and state stay bit-identical, the step count does not advance,
     * and false is returned. Reads the skip flag on the host; {@link #stepAsync} does not.
     */
    public boolean step(Tensor coefficient, Tensor skip) {
        checkOpen();
        if (skip != null) checkScalar(skip, "skip");
        boolean taken = skip == null || skip.item() == 0;
        stepAsync(coefficient, skip);
        return taken;
    }

    /**
     * The same update as {@link #step(Tensor, Tensor)} without any host read: when the backend has fused
     * multi-tensor kernels ({@link MultiTensorOps}), this optimizer has a {@link #fusedUpdate()} and every parameter
     * is a contiguous F32 tensor with a gradient, one fused pass per group applies the coefficient, the schedule and
     * the skip flag on the device, and device-side counters count taken steps. Otherwise the composed
     * per-parameter update runs, which reads the skip flag on the host.
     */
    public void stepAsync(Tensor coefficient, Tensor skip) { stepAsync(coefficient, skip, null); }

    /**
     * {@link #stepAsync(Tensor, Tensor)} with this step's learning rate times {@code lrFactor} (0-d, on the device;
     * null = 1), with no host read on the fused path: the fused kernel multiplies the scheduled lr by the factor (in
     * double, before its one rounding to float) inside its own pass, so the factor costs no pass over the parameters.
     * This is torch's semantics of lowering every group's lr for the step: the step is exactly the one an optimizer
     * built with {@code lr * factor} takes (bit for bit under a constant schedule; with a schedule, the factor
     * multiplies the scheduled rate), AdamW's decoupled decay is {@code p *= 1 - lr * factor * wd}, and the moments and
     * SGD's momentum buffer do not see the factor (torch keeps lr out of them). A factor of 1 changes no bit of the
     * step. The factor is read as F32 (like the coefficient). The composed path reads it on the host, as it reads the
     * skip flag.
     */
    public void stepAsync(Tensor coefficient, Tensor skip, Tensor lrFactor) {
        checkOpen();
        if (coefficient != null) checkScalar(coefficient, "coefficient");
        if (skip != null) checkScalar(skip, "skip");
        if (lrFactor != null) checkScalar(lrFactor, "lrFactor");
        Optional<FusedUpdate> hook = fusedUpdate();
        Optional<MultiTensorOps> ops = params.isEmpty() ? Optional.empty() : params.getFirst().device().backend().multiTensorOps();
        if (hook.isPresent() && ops.isPresent() && FusedDispatch.eligible(params, paramSteps, steps, fused.pending())) {
            fused.step(hook.get(), ops.get(), groups, params, steps, schedule, coefficient, skip, lrFactor, workingCopies);
            return;
        }
        syncStepsFromDevice();
        if (skip != null && skip.item() != 0) return;
        updateGroupLrs();
        double factor = lrFactor == null ? 1 : (float) lrFactor.item(); // as F32, like the kernels read it
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                Tensor g = p.grad();
                if (g == null) continue;
                if (coefficient != null) g = g.mul(coefficient);
                paramSteps[i]++;
                ParamGroup group = groups.get(groupOf[i]);
                update(i, p, g, lrFactor == null ? group.lr() : group.lr() * factor, group, paramSteps[i]);
            }
        }
        steps++;
        fused.drop();
        updateGroupLrs();
        if (workingCopies != null) workingCopies.refreshAll();
    }

    /**
     * Keeps an F16 or BF16 copy of every F32 parameter for mixed-precision forward passes: under
     * {@code Autocast.enable(dtype)} the layers take the copy ({@code Autocast.weight}) instead of casting the master
     * weight at every use. The fused update writes the copies in its own pass over the weights (backends whose kernel
     * cannot, and the composed update, cast them right after the step). {@code null} drops them. After changing
     * parameters outside the optimizer, {@link #refreshWorkingCopies()} (until then the layers cast, so nothing stale
     * is ever read).
     */
    public void keepWorkingCopies(DType dtype) {
        checkOpen();
        if (workingCopies != null) workingCopies.close();
        workingCopies = null;
        if (dtype != null) workingCopies = new WorkingCopies(params, dtype);
    }

    /** Casts every parameter into its working copy now (a no-op without copies). */
    public void refreshWorkingCopies() {
        if (workingCopies != null) workingCopies.refreshAll();
    }

    /** Brings the host step counts up to date with the device counters (a sync) after fused steps. */
    private void syncStepsFromDevice() {
        if (!fused.pending()) return;
        long now = fused.read();
        long delta = now - steps;
        for (int i = 0; i < paramSteps.length; i++) paramSteps[i] += delta;
        steps = now;
        updateGroupLrs();
    }

    /** With a schedule, each group's lr becomes the one of its next update. */
    private void updateGroupLrs() {
        if (schedule == null) return;
        for (ParamGroup g : groups) g.setLr(schedule.lr(steps, g.baseLr()));
    }

    private void checkScalar(Tensor t, String what) {
        if (t.numel() != 1)
            throw new IllegalArgumentException("step: " + what + " must be a 0-d tensor, got shape " + Arrays.toString(t.shape()));
        if (!params.isEmpty() && t.device().backend() != params.get(0).device().backend())
            throw new IllegalArgumentException("step: " + what + " is on " + t.device().name() + " but parameters are on "
                    + params.get(0).device().name());
    }

    // ------------------------------------------------------------------ the update math (subclasses)

    /**
     * Updates parameter {@code index} in place from {@code grad} (already multiplied by the coefficient) with learning
     * rate {@code lr} (the group's, times the step's lr factor; use it, not {@code group.lr()}).
     * Runs under noGrad inside a scope that frees temporaries; {@code paramStep} counts this parameter's updates
     * including this one (torch's per-parameter {@code state['step']}).
     */
    protected abstract void update(int index, Tensor param, Tensor grad, double lr, ParamGroup group, long paramStep);

    /** The fused kernel of this optimizer for one group, or empty when it has none (the composed path runs). */
    protected Optional<FusedUpdate> fusedUpdate() { return Optional.empty(); }

    /** The names of per-parameter state tensors this optimizer may keep (for state dict validation). */
    protected abstract Set<String> stateNames();

    /** Whether {@code state.<i>.step} (per-parameter update count) is part of the state dict, as for Adam. */
    protected boolean exportsParamStep() { return false; }

    /** Optimizer-specific fixed hyperparameters (betas, momentum...), for checkpoint metadata. */
    protected abstract Map<String, String> fixedHyperparameters();

    /** The state tensor {@code name} of parameter {@code index}, or null when not created yet. */
    protected final Tensor state(int index, String name) { return state().get(index, name); }

    /** Stores a new state tensor, taking ownership: it leaves every scope and is freed by {@link #close()}. */
    protected final Tensor putState(int index, String name, Tensor t) { return state().put(index, name, t); }

    private OptimizerState state() {
        if (state == null) state = new OptimizerState(params, stateNames(), exportsParamStep(), getClass().getSimpleName());
        return state;
    }

    // ------------------------------------------------------------------ state dict

    /**
     * The optimizer state: {@code step} (0-d I64) and {@code state.<index>.<name>} for every state tensor (and
     * {@code state.<index>.step} for optimizers that count per-parameter steps). The tensors are new handles sharing
     * the optimizer's storage: read them or close them, but do not write to them.
     */
    public Map<String, Tensor> stateDict() {
        checkOpen();
        syncStepsFromDevice();
        return state().stateDict(new OptimizerState.Counts(steps, paramSteps));
    }

    /**
     * The per-parameter state tensors that exist now, as {@code state.<index>.<name>}: the live tensors themselves
     * (no copies, no step counts, no host read), for code that keeps device copies of them and writes them back in
     * place, such as a rollback to a last good state. Tensors are made lazily (at a parameter's first update), so a
     * later call may list more.
     */
    public Map<String, Tensor> stateTensors() {
        checkOpen();
        return state().live();
    }

    /** An empty snapshot of this optimizer's state, to keep current with {@link #saveState}. */
    public OptimizerSnapshot newSnapshot() {
        checkOpen();
        return new OptimizerSnapshot(params.isEmpty() ? Device.auto() : params.getFirst().device(), params.size());
    }

    /**
     * Copies the whole state (every state tensor, the step count and each parameter's own count) into {@code snapshot}
     * where {@code take} (0-d, on the device) is set, with no host read. A state tensor the snapshot does not hold yet
     * was zeros when it was last saved (optimizers start their moments and buffers at zero).
     */
    public void saveState(OptimizerSnapshot snapshot, Tensor take) {
        checkOpen();
        checkScalar(take, "take");
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            for (var e : state().live().entrySet()) {
                Tensor copy = snapshot.getOrZeros(e.getKey(), e.getValue());
                copy.copyFrom(Tensor.where(take, e.getValue(), copy));
            }
            Tensor counter = fused.counter();
            Tensor now, perParam;
            if (counter != null) {
                // fused steps: every parameter has taken the device count (FusedDispatch.eligible)
                now = counter;
                perParam = counter.reshape(1).expand(snapshot.paramSteps.shape());
            } else {
                now = Tensor.scalar(snapshot.steps.device(), DType.F64, steps);
                double[] per = new double[(int) snapshot.paramSteps.numel()];
                for (int i = 0; i < paramSteps.length; i++) per[i] = paramSteps[i];
                perParam = Tensor.fromArray(snapshot.steps.device(), DType.F64, per, per.length);
            }
            snapshot.steps.copyFrom(Tensor.where(take, now, snapshot.steps));
            snapshot.paramSteps.copyFrom(Tensor.where(take, perParam, snapshot.paramSteps));
        }
    }

    /**
     * Writes {@code snapshot} back where {@code flag} (0-d, on the device) is set: state tensors (zeros for state made
     * after the snapshot), the step count and with it the schedule's position and Adam's bias correction. On the fused
     * path this is all on the device; on the composed path, which keeps the counts on the host and reads a skip flag
     * there at every step anyway, the flag is read. Working copies of the parameters are cast again (the caller
     * restores the parameters first).
     */
    public void restoreState(OptimizerSnapshot snapshot, Tensor flag) {
        checkOpen();
        checkScalar(flag, "flag");
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            for (var e : state().live().entrySet()) {
                Tensor copy = snapshot.get(e.getKey());
                Tensor back = copy != null ? copy : Tensor.zeros(e.getValue().device(), e.getValue().dtype(), e.getValue().shape());
                e.getValue().copyFrom(Tensor.where(flag, back, e.getValue()));
            }
            if (fused.counter() != null) {
                fused.restore(snapshot.steps, flag);
            } else if (flag.item() != 0) {
                steps = (long) snapshot.steps.item();
                double[] per = snapshot.paramSteps.toDoubleArray();
                for (int i = 0; i < paramSteps.length; i++) paramSteps[i] = (long) per[i];
                updateGroupLrs();
            }
        }
        if (workingCopies != null) workingCopies.refreshAll();
    }

    /**
     * Checks that {@code dict} is a state dict this optimizer can load: a {@code step} entry, only known state names
     * for existing parameter indices, each with the parameter's shape and dtype. Throws IllegalArgumentException
     * naming the first problem; changes nothing.
     */
    public void validateStateDict(Map<String, Tensor> dict) { state().validate(dict); }

    /**
     * Replaces the whole state with {@code dict} (validated first, so a bad dict changes nothing): values are copied
     * into this optimizer's own tensors, and state absent from {@code dict} is dropped.
     */
    public void loadStateDict(Map<String, Tensor> dict) {
        checkOpen();
        syncStepsFromDevice();
        state().validate(dict);
        fused.drop();
        OptimizerState.Counts counts = state().load(dict);
        System.arraycopy(counts.paramSteps(), 0, paramSteps, 0, paramSteps.length);
        steps = counts.steps();
        updateGroupLrs();
    }

    // ------------------------------------------------------------------ hyperparameters

    /**
     * Hyperparameters as strings, for checkpoint metadata: {@code type}, {@code groups}, per group
     * {@code group.<g>.lr}, {@code group.<g>.base_lr}, {@code group.<g>.weight_decay}, and the optimizer's fixed ones.
     */
    public Map<String, String> hyperparameters() {
        return OptimizerState.hyperparameters(getClass().getSimpleName(), groups, fixedHyperparameters());
    }

    /**
     * Checks saved hyperparameters against this optimizer (type, group layout and fixed ones must match, naming the
     * first key that differs) without changing anything.
     */
    public void validateHyperparameters(Map<String, String> saved) {
        OptimizerState.validateHyperparameters(hyperparameters(), saved);
    }

    /** Restores each group's current learning rate and weight decay from saved hyperparameters (validated first). */
    public void loadHyperparameters(Map<String, String> saved) {
        validateHyperparameters(saved);
        for (int g = 0; g < groups.size(); g++) {
            groups.get(g).setLr(Double.parseDouble(saved.get("group." + g + ".lr")));
            groups.get(g).setWeightDecay(Double.parseDouble(saved.get("group." + g + ".weight_decay")));
        }
        updateGroupLrs();
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException(getClass().getSimpleName() + " was closed");
    }

    /** Frees the optimizer's state tensors and counters (not the parameters). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        fused.close();
        if (workingCopies != null) workingCopies.close();
        if (state != null) state.close();
    }
}
