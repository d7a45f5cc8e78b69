package dev.ballast.engine.optim;

import dev.ballast.engine.DType;
import dev.ballast.engine.Scope;
import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Updates parameters in place from their gradients. Parameters are grouped ({@link ParamGroup}), each group with
 * its own learning rate and weight decay; every parameter also has a global index (its position across the
 * groups, in order) that names its state in {@link #stateDict()} as {@code state.<index>.<name>}, plus the entry
 * {@code step}, the number of steps taken.
 *
 * <p>Per-parameter state tensors (moments, momentum buffers) are owned by the optimizer: they are removed from
 * every {@link Scope} and updated in place outside autograd; {@link #close()} frees them. A parameter whose
 * gradient is null is left alone in a step (its state does not move), as in torch.
 *
 * <p>{@link #step(Tensor, Tensor)} takes an optional 0-d coefficient that multiplies every gradient (the clip
 * coefficient times the inverse loss scale) and an optional 0-d skip flag. This composed implementation reads the
 * skip flag on the host (one device sync per step when a flag is given); a fused device-side step that reads the
 * flag inside the kernel comes later. Not thread-safe.
 */
public abstract class Optimizer implements AutoCloseable {
    private final List<ParamGroup> groups;
    private final List<Tensor> params = new ArrayList<>();
    private final int[] groupOf;
    private final Map<Integer, Map<String, Tensor>> state = new TreeMap<>();
    private final long[] paramSteps;
    private long steps;
    private boolean closed;
    private Tensor[] deviceSteps;      // per group, F64 0-d: taken steps as counted by the fused kernels
    private boolean stepsOnDevice;     // deviceSteps hold counts the host has not read yet
    private LrSchedule deviceSchedule;

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

    /** Steps taken (skipped steps do not count). */
    public long stepCount() {
        syncStepsFromDevice();
        return steps;
    }

    /**
     * Sets every group's learning rate from a schedule at the current step count, scaled from each group's base lr.
     * After fused steps this reads the device step counter (a sync); {@link #setDeviceSchedule} avoids that.
     */
    public void applySchedule(dev.ballast.engine.optim.schedule.LrSchedule schedule) {
        long taken = stepCount();
        for (ParamGroup g : groups) g.setLr(schedule.lr(taken, g.baseLr()));
    }

    /** Clears every parameter's gradient (torch's zero_grad(set_to_none=True)). */
    public void zeroGrad() {
        for (Tensor p : params) p.zeroGrad();
    }

    /** One update from the current gradients; returns true (a plain step is never skipped). */
    public boolean step() { return step(null, null); }

    /**
     * One update with every gradient multiplied by {@code coefficient} (0-d, may be null), unless {@code skip}
     * (0-d, may be null) is nonzero: then weights and state stay bit-identical, the step count does not advance,
     * and false is returned. The skip flag is read on the host in this implementation.
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
     * multi-tensor kernels ({@link MultiTensorOps}) and every parameter is a contiguous F32 tensor with a gradient,
     * one fused pass per group applies the coefficient and honours the skip flag on the device, and a device-side
     * counter counts taken steps ({@link #stepCount()} then reads it: a sync). Otherwise this falls back to the
     * composed per-parameter update, which reads the skip flag on the host.
     */
    public void stepAsync(Tensor coefficient, Tensor skip) {
        checkOpen();
        if (coefficient != null) checkScalar(coefficient, "coefficient");
        if (skip != null) checkScalar(skip, "skip");
        if (fusedEligible()) {
            fusedStep(coefficient, skip);
            return;
        }
        syncStepsFromDevice();
        if (skip != null && skip.item() != 0) return;
        long next = steps + 1;
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                Tensor g = p.grad();
                if (g == null) continue;
                if (coefficient != null) g = g.mul(coefficient);
                paramSteps[i]++;
                update(i, p, g, groups.get(groupOf[i]), paramSteps[i]);
            }
        }
        steps = next;
        dropDeviceSteps();
    }

    // ------------------------------------------------------------------ fused path

    /**
     * Runs one fused update for a group: the subclass calls its {@link MultiTensorOps} kernel with these views.
     * Return false when this optimizer has no fused kernel (the composed path is used then).
     */
    protected boolean fusedUpdate(MultiTensorOps ops, int group, List<Integer> indices, List<Strided> params, List<Strided> grads,
                                  LrSchedule schedule, Strided coefficient, Strided skip, Strided step) {
        return false;
    }

    /** Whether this optimizer implements {@link #fusedUpdate}. */
    protected boolean hasFusedUpdate() { return false; }

    /**
     * A schedule evaluated on the device from the count of taken steps (so skipped steps do not move it), used by
     * the fused path instead of the groups' current learning rates; its {@code lr} is replaced by each group's base lr.
     * Null (the default) uses each group's current lr as a constant.
     */
    public void setDeviceSchedule(LrSchedule schedule) { this.deviceSchedule = schedule; }

    private boolean fusedEligible() {
        if (!hasFusedUpdate() || params.isEmpty() || params.getFirst().device().backend().multiTensorOps().isEmpty()) return false;
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (paramSteps[i] != steps && !stepsOnDevice) return false; // per-parameter counts diverged: bias correction differs
            if (p.dtype() != DType.F32 || g == null || g.dtype() != DType.F32 || !p.isContiguous() || !g.isContiguous()) return false;
        }
        return true;
    }

    private void fusedStep(Tensor coefficient, Tensor skip) {
        MultiTensorOps ops = params.getFirst().device().backend().multiTensorOps().orElseThrow();
        if (deviceSteps == null) {
            deviceSteps = new Tensor[groups.size()];
            for (int g = 0; g < groups.size(); g++)
                deviceSteps[g] = Scope.detachFromScopes(Tensor.scalar(params.getFirst().device(), DType.F64, steps));
        }
        Strided coef = coefficient == null ? null : coefficient.view();
        Strided flag = skip == null ? null : skip.view();
        int start = 0;
        for (int g = 0; g < groups.size(); g++) {
            ParamGroup group = groups.get(g);
            List<Integer> idx = new ArrayList<>();
            List<Strided> ps = new ArrayList<>(), gs = new ArrayList<>();
            for (int k = 0; k < group.params().size(); k++) {
                int i = start + k;
                idx.add(i);
                ps.add(params.get(i).view());
                gs.add(params.get(i).grad().view());
            }
            start += group.params().size();
            LrSchedule sched = deviceSchedule == null ? LrSchedule.constant(group.lr())
                    : new LrSchedule(deviceSchedule.kind(), group.baseLr(), deviceSchedule.warmupSteps(), deviceSchedule.stepSize(),
                    deviceSchedule.gamma(), deviceSchedule.tMax(), deviceSchedule.etaMin());
            if (!fusedUpdate(ops, g, idx, ps, gs, sched, coef, flag, deviceSteps[g].view()))
                throw new IllegalStateException(getClass().getSimpleName() + " claims a fused update but did not run one");
        }
        stepsOnDevice = true;
    }

    /** Brings the host step counts up to date with the device counters (a sync) after fused steps. */
    private void syncStepsFromDevice() {
        if (!stepsOnDevice) return;
        long now = (long) deviceSteps[0].item();
        long delta = now - steps;
        for (int i = 0; i < paramSteps.length; i++) paramSteps[i] += delta;
        steps = now;
        stepsOnDevice = false; // the device counters stay valid: they equal the host count again
    }

    /** Drops the device counters after the host count moved without them (composed step, loaded state). */
    private void dropDeviceSteps() {
        if (deviceSteps == null) return;
        for (Tensor t : deviceSteps) t.close();
        deviceSteps = null;
    }

    private void checkScalar(Tensor t, String what) {
        if (t.numel() != 1)
            throw new IllegalArgumentException("step: " + what + " must be a 0-d tensor, got shape " + Arrays.toString(t.shape()));
        if (!params.isEmpty() && t.device().backend() != params.get(0).device().backend())
            throw new IllegalArgumentException("step: " + what + " is on " + t.device().name() + " but parameters are on "
                    + params.get(0).device().name());
    }

    /**
     * Updates parameter {@code index} in place from {@code grad} (already multiplied by the coefficient).
     * Runs under noGrad inside a scope that frees temporaries; {@code paramStep} counts this parameter's updates
     * including this one (torch's per-parameter {@code state['step']}).
     */
    protected abstract void update(int index, Tensor param, Tensor grad, ParamGroup group, long paramStep);

    /** The names of per-parameter state tensors this optimizer may keep (for state dict validation). */
    protected abstract Set<String> stateNames();

    /** Whether {@code state.<i>.step} (per-parameter update count) is part of the state dict, as for Adam. */
    protected boolean exportsParamStep() { return false; }

    /** Optimizer-specific fixed hyperparameters (betas, momentum...), for checkpoint metadata. */
    protected abstract Map<String, String> fixedHyperparameters();

    /** The state tensor {@code name} of parameter {@code index}, or null when not created yet. */
    protected final Tensor state(int index, String name) {
        Map<String, Tensor> m = state.get(index);
        return m == null ? null : m.get(name);
    }

    /** Stores a new state tensor, taking ownership: it leaves every scope and is freed by {@link #close()}. */
    protected final Tensor putState(int index, String name, Tensor t) {
        if (!stateNames().contains(name)) throw new IllegalStateException("undeclared state name " + name);
        Scope.detachFromScopes(t);
        Tensor old = state.computeIfAbsent(index, k -> new LinkedHashMap<>()).put(name, t);
        if (old != null && old != t) old.close();
        return t;
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
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("step", Tensor.fromArray(params.get(0).device(), new long[]{steps}));
        for (int i = 0; i < params.size(); i++) {
            if (exportsParamStep() && paramSteps[i] > 0)
                out.put("state." + i + ".step", Tensor.fromArray(params.get(i).device(), new long[]{paramSteps[i]}));
            Map<String, Tensor> m = state.get(i);
            if (m != null) for (var e : m.entrySet()) out.put("state." + i + "." + e.getKey(), e.getValue().detach());
        }
        return out;
    }

    /**
     * Checks that {@code dict} is a state dict this optimizer can load: a {@code step} entry, only known state names
     * for existing parameter indices, each with the parameter's shape and dtype. Throws IllegalArgumentException
     * naming the first problem; changes nothing.
     */
    public void validateStateDict(Map<String, Tensor> dict) {
        Tensor step = dict.get("step");
        if (step == null) throw new IllegalArgumentException("optimizer state: missing entry 'step'");
        checkCounter(step, "step");
        for (var e : dict.entrySet()) {
            String key = e.getKey();
            if (key.equals("step")) continue;
            String[] parts = key.split("\\.", 3);
            if (parts.length != 3 || !parts[0].equals("state"))
                throw new IllegalArgumentException("optimizer state: unexpected entry '" + key
                        + "' (allowed: step, state.<index>.<name>)");
            int index;
            try {
                index = Integer.parseInt(parts[1]);
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("optimizer state: bad parameter index in '" + key + "'");
            }
            if (index < 0 || index >= params.size())
                throw new IllegalArgumentException("optimizer state: '" + key + "' names parameter " + index
                        + " but this optimizer has " + params.size() + " parameters");
            String name = parts[2];
            Tensor t = e.getValue();
            if (name.equals("step") && exportsParamStep()) {
                checkCounter(t, key);
                continue;
            }
            if (!stateNames().contains(name))
                throw new IllegalArgumentException("optimizer state: unknown state '" + name + "' in '" + key
                        + "' for " + getClass().getSimpleName() + " (allowed: " + stateNames()
                        + (exportsParamStep() ? " and step" : "") + ")");
            Tensor p = params.get(index);
            if (!Arrays.equals(t.shape(), p.shape()) || t.dtype() != p.dtype())
                throw new IllegalArgumentException("optimizer state: '" + key + "' has shape " + Arrays.toString(t.shape())
                        + " " + t.dtype() + " but parameter " + index + " has shape " + Arrays.toString(p.shape()) + " " + p.dtype());
        }
    }

    private static void checkCounter(Tensor t, String key) {
        if (t.numel() != 1 || t.dtype().isFloating())
            throw new IllegalArgumentException("optimizer state: '" + key + "' must be a one-element integer tensor, got shape "
                    + Arrays.toString(t.shape()) + " " + t.dtype());
        if (t.toLongArray()[0] < 0) throw new IllegalArgumentException("optimizer state: '" + key + "' is negative");
    }

    /**
     * Replaces the whole state with {@code dict} (validated first, so a bad dict changes nothing): values are copied
     * into this optimizer's own tensors, and state absent from {@code dict} is dropped.
     */
    public void loadStateDict(Map<String, Tensor> dict) {
        checkOpen();
        syncStepsFromDevice();
        dropDeviceSteps();
        validateStateDict(dict);
        Map<Integer, Map<String, Tensor>> fresh = new TreeMap<>();
        long[] newSteps = new long[params.size()];
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (var e : dict.entrySet()) {
                if (e.getKey().equals("step")) continue;
                String[] parts = e.getKey().split("\\.", 3);
                int index = Integer.parseInt(parts[1]);
                if (parts[2].equals("step") && exportsParamStep()) {
                    newSteps[index] = e.getValue().toLongArray()[0];
                    continue;
                }
                Tensor p = params.get(index);
                Tensor t = Scope.detachFromScopes(Tensor.empty(p.device(), p.dtype(), p.shape()));
                t.copyFrom(e.getValue());
                fresh.computeIfAbsent(index, k -> new LinkedHashMap<>()).put(parts[2], t);
            }
        }
        freeState();
        state.putAll(fresh);
        System.arraycopy(newSteps, 0, paramSteps, 0, newSteps.length);
        steps = dict.get("step").toLongArray()[0];
    }

    // ------------------------------------------------------------------ hyperparameters

    /**
     * Hyperparameters as strings, for checkpoint metadata: {@code type}, {@code groups}, per group
     * {@code group.<g>.lr}, {@code group.<g>.base_lr}, {@code group.<g>.weight_decay}, and the optimizer's fixed ones.
     */
    public Map<String, String> hyperparameters() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("type", getClass().getSimpleName());
        m.put("groups", Integer.toString(groups.size()));
        for (int g = 0; g < groups.size(); g++) {
            ParamGroup pg = groups.get(g);
            m.put("group." + g + ".params", Integer.toString(pg.params().size()));
            m.put("group." + g + ".lr", Double.toString(pg.lr()));
            m.put("group." + g + ".base_lr", Double.toString(pg.baseLr()));
            m.put("group." + g + ".weight_decay", Double.toString(pg.weightDecay()));
        }
        m.putAll(fixedHyperparameters());
        return m;
    }

    /**
     * Checks saved hyperparameters against this optimizer (type, group layout and fixed ones must match, naming the
     * first key that differs) without changing anything.
     */
    public void validateHyperparameters(Map<String, String> saved) {
        Map<String, String> mine = hyperparameters();
        for (var e : mine.entrySet()) {
            String k = e.getKey();
            if (k.endsWith(".lr") || k.endsWith(".weight_decay")) {
                String v = saved.get(k);
                if (v == null) throw new IllegalArgumentException("optimizer hyperparameters: missing '" + k + "'");
                try {
                    double d = Double.parseDouble(v);
                    if (k.endsWith(".lr")) ParamGroup.checkLr(d); else ParamGroup.checkWeightDecay(d);
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException("optimizer hyperparameters: '" + k + "' is not a number: " + v);
                }
                continue;
            }
            if (!e.getValue().equals(saved.get(k)))
                throw new IllegalArgumentException("optimizer hyperparameters: '" + k + "' is " + saved.get(k)
                        + " in the checkpoint but " + e.getValue() + " in this optimizer");
        }
    }

    /** Restores each group's current learning rate and weight decay from saved hyperparameters (validated first). */
    public void loadHyperparameters(Map<String, String> saved) {
        validateHyperparameters(saved);
        for (int g = 0; g < groups.size(); g++) {
            groups.get(g).setLr(Double.parseDouble(saved.get("group." + g + ".lr")));
            groups.get(g).setWeightDecay(Double.parseDouble(saved.get("group." + g + ".weight_decay")));
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException(getClass().getSimpleName() + " was closed");
    }

    private void freeState() {
        for (Map<String, Tensor> m : state.values()) for (Tensor t : m.values()) t.close();
        state.clear();
    }

    /** Frees the optimizer's state tensors (not the parameters). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (deviceSteps != null) for (Tensor t : deviceSteps) t.close();
        freeState();
    }
}
