package dev.ballast.engine.optim;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A device copy of an {@link Optimizer}'s whole state, for a rollback to a last good state: every state tensor
 * (moments, momentum buffers) by its {@code state.<index>.<name>} key, the count of taken steps (which Adam's bias
 * correction and the learning-rate schedule are evaluated from) and each parameter's own count. Written by
 * {@link Optimizer#saveState} and read back by {@link Optimizer#restoreState}, both conditional on a device flag,
 * so keeping it current costs no host read. Owns its tensors: out of every scope, freed by {@link #close()}.
 */
public final class OptimizerSnapshot implements AutoCloseable {
    private final Map<String, Tensor> state = new LinkedHashMap<>();
    final Tensor steps;       // F64 0-d
    final Tensor paramSteps;  // F64 [parameters]

    /** An empty snapshot: no state tensors (optimizers start their state at zero) and zero steps. */
    OptimizerSnapshot(Device device, int parameters) {
        steps = Scope.detachFromScopes(Tensor.zeros(device, DType.F64));
        paramSteps = Scope.detachFromScopes(Tensor.zeros(device, DType.F64, Math.max(1, parameters)));
    }

    /** The copy of state tensor {@code key}, or null when it did not exist at any save. */
    Tensor get(String key) { return state.get(key); }

    /** The copy of state tensor {@code key}, made as zeros like {@code like} when there is none yet. */
    Tensor getOrZeros(String key, Tensor like) {
        return state.computeIfAbsent(key, k -> Scope.detachFromScopes(Tensor.zeros(like.device(), like.dtype(), like.shape())));
    }

    /** The state tensor copies by key (live; for tests and inspection). */
    public Map<String, Tensor> stateTensors() { return java.util.Collections.unmodifiableMap(state); }

    /** The count of taken steps the snapshot holds (a host read). */
    public long steps() { return (long) steps.item(); }

    @Override public void close() {
        for (Tensor t : state.values()) t.close();
        state.clear();
        steps.close();
        paramSteps.close();
    }
}
