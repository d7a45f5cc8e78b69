package dev.ballast.engine.optim;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * An {@link Optimizer}'s per-parameter state tensors and their state dict: {@code step} and
 * {@code state.<index>.<name>} (plus {@code state.<index>.step} for optimizers that count per-parameter steps), with
 * validation that names the first problem and loading that changes nothing until everything is checked; and the
 * hyperparameters as strings for checkpoint metadata. The tensors are owned here: out of every scope, freed by
 * {@link #close()}.
 */
final class OptimizerState implements AutoCloseable {
    /** What a state dict restores: the steps and each parameter's own step count. */
    record Counts(long steps, long[] paramSteps) {}

    private final Map<Integer, Map<String, Tensor>> state = new TreeMap<>();
    private final List<Tensor> params;
    private final Set<String> names;
    private final boolean exportsParamStep;
    private final String owner;

    OptimizerState(List<Tensor> params, Set<String> names, boolean exportsParamStep, String owner) {
        this.params = params;
        this.names = names;
        this.exportsParamStep = exportsParamStep;
        this.owner = owner;
    }

    Tensor get(int index, String name) {
        Map<String, Tensor> m = state.get(index);
        return m == null ? null : m.get(name);
    }

    Tensor put(int index, String name, Tensor t) {
        if (!names.contains(name)) throw new IllegalStateException("undeclared state name " + name);
        Scope.detachFromScopes(t);
        Tensor old = state.computeIfAbsent(index, k -> new LinkedHashMap<>()).put(name, t);
        if (old != null && old != t) old.close();
        return t;
    }

    /** The live state tensors as {@code state.<index>.<name>}, in index order. */
    Map<String, Tensor> live() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : state.entrySet())
            for (var t : e.getValue().entrySet()) out.put("state." + e.getKey() + "." + t.getKey(), t.getValue());
        return out;
    }

    /** The state dict for these counts; the tensors are new handles sharing the state's storage. */
    Map<String, Tensor> stateDict(Counts counts) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("step", Tensor.fromArray(params.get(0).device(), new long[]{counts.steps()}));
        for (int i = 0; i < params.size(); i++) {
            if (exportsParamStep && counts.paramSteps()[i] > 0)
                out.put("state." + i + ".step", Tensor.fromArray(params.get(i).device(), new long[]{counts.paramSteps()[i]}));
            Map<String, Tensor> m = state.get(i);
            if (m != null) for (var e : m.entrySet()) out.put("state." + i + "." + e.getKey(), e.getValue().detach());
        }
        return out;
    }

    /** Throws IllegalArgumentException naming the first problem of {@code dict}; changes nothing. */
    void validate(Map<String, Tensor> dict) {
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
            if (name.equals("step") && exportsParamStep) {
                checkCounter(t, key);
                continue;
            }
            if (!names.contains(name))
                throw new IllegalArgumentException("optimizer state: unknown state '" + name + "' in '" + key
                        + "' for " + owner + " (allowed: " + names + (exportsParamStep ? " and step" : "") + ")");
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

    /** Replaces the whole state with {@code dict} (validated first); returns the counts it holds. */
    Counts load(Map<String, Tensor> dict) {
        validate(dict);
        Map<Integer, Map<String, Tensor>> fresh = new TreeMap<>();
        long[] newSteps = new long[params.size()];
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (var e : dict.entrySet()) {
                if (e.getKey().equals("step")) continue;
                String[] parts = e.getKey().split("\\.", 3);
                int index = Integer.parseInt(parts[1]);
                if (parts[2].equals("step") && exportsParamStep) {
                    newSteps[index] = e.getValue().toLongArray()[0];
                    continue;
                }
                Tensor p = params.get(index);
                Tensor t = Scope.detachFromScopes(Tensor.empty(p.device(), p.dtype(), p.shape()));
                t.copyFrom(e.getValue());
                fresh.computeIfAbsent(index, k -> new LinkedHashMap<>()).put(parts[2], t);
            }
        }
        close();
        state.putAll(fresh);
        return new Counts(dict.get("step").toLongArray()[0], newSteps);
    }

    // ------------------------------------------------------------------ hyperparameters

    /**
     * {@code type}, {@code groups}, per group {@code group.<g>.params}, {@code .lr}, {@code .base_lr},
     * {@code .weight_decay}, then the optimizer's fixed ones.
     */
    static Map<String, String> hyperparameters(String type, List<ParamGroup> groups, Map<String, String> fixed) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("groups", Integer.toString(groups.size()));
        for (int g = 0; g < groups.size(); g++) {
            ParamGroup pg = groups.get(g);
            m.put("group." + g + ".params", Integer.toString(pg.params().size()));
            m.put("group." + g + ".lr", Double.toString(pg.lr()));
            m.put("group." + g + ".base_lr", Double.toString(pg.baseLr()));
            m.put("group." + g + ".weight_decay", Double.toString(pg.weightDecay()));
        }
        m.putAll(fixed);
        return m;
    }

    /** Checks {@code saved} against {@code mine}: every key must match except lr and weight decay, which must be valid. */
    static void validateHyperparameters(Map<String, String> mine, Map<String, String> saved) {
        for (var e : mine.entrySet()) {
            String k = e.getKey();
            // learning rates (current and base) and weight decay may differ: a resumed run may change them
            if (k.endsWith(".lr") || k.endsWith(".base_lr") || k.endsWith(".weight_decay")) {
                String v = saved.get(k);
                if (v == null) throw new IllegalArgumentException("optimizer hyperparameters: missing '" + k + "'");
                try {
                    double d = Double.parseDouble(v);
                    if (k.endsWith("lr")) ParamGroup.checkLr(d); else ParamGroup.checkWeightDecay(d);
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

    /** Frees every state tensor. */
    @Override public void close() {
        for (Map<String, Tensor> m : state.values()) for (Tensor t : m.values()) t.close();
        state.clear();
    }
}
