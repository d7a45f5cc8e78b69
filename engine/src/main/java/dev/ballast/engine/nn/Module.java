package dev.ballast.engine.nn;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A layer or a network of layers, as torch.nn.Module: it owns named parameters (leaf tensors that require
 * gradients), buffers (state that is saved but not trained, such as BatchNorm's running statistics) and child
 * modules. Names are hierarchical ("blocks.3.mlp.fc1.weight") and iterated in registration order, so
 * {@link #namedParameters()} and {@link #stateDict()} are deterministic.
 *
 * <p>Every module knows its full path from the root ("layers.7.linear"; the root's path is ""), set when a parent
 * registers it. {@link #call(Tensor)} runs {@link #forward(Tensor)} with that path entered in {@link GradMode},
 * so anomaly mode can name the module whose op produced the first non-finite value. A module owns its
 * parameters and buffers: they are removed from every {@link Scope} and freed by {@link #close()}.
 * Not thread-safe.
 */
public abstract class Module implements AutoCloseable {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_]+");

    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private String path = "";
    private boolean training = true;
    private boolean hasParent;

    /** The computation of a single-input, single-output module; call it through {@link #call(Tensor)}. */
    protected abstract Tensor forward(Tensor x);

    /** Runs {@link #forward(Tensor)} with this module's path recorded for anomaly reports. */
    public final Tensor call(Tensor x) {
        return inModule(() -> forward(x));
    }

    /** Runs {@code body} with this module's path entered in {@link GradMode}: typed multi-input methods use it. */
    protected final <T> T inModule(Supplier<T> body) {
        try (GradMode.Guard g = GradMode.enterModule(path)) {
            return body.get();
        }
    }

    // ------------------------------------------------------------------ registration

    /**
     * Registers {@code child} under {@code name} and sets its path (and its descendants' paths) below this
     * module's. Returns the child. A module may have only one parent.
     */
    protected final <M extends Module> M registerModule(String name, M module) {
        checkName(name);
        Objects.requireNonNull(module, "registerModule: child is null");
        Module child = module; // private members are reachable through Module, not through the type variable
        if (child == this) throw new IllegalArgumentException("registerModule: a module cannot be its own child ('" + name + "')");
        if (child.hasParent)
            throw new IllegalArgumentException("registerModule: module " + child.getClass().getSimpleName() + " at '" + child.path
                    + "' already has a parent; create a new module for '" + name + "'");
        child.hasParent = true;
        children.put(name, child);
        child.setPath(join(path, name));
        return module;
    }

    /**
     * Registers a parameter: marks it as requiring gradients and takes ownership (removes it from every open
     * {@link Scope}). It must be a floating leaf tensor. Returns it.
     */
    protected final Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        Objects.requireNonNull(t, "registerParameter: tensor is null");
        if (!t.isLeaf())
            throw new IllegalArgumentException("registerParameter: '" + name + "' must be a leaf tensor (made by an op under"
                    + " grad mode); create it under GradMode.noGrad() or detach() it");
        if (!t.dtype().isFloating())
            throw new IllegalArgumentException("registerParameter: '" + name + "' must be floating, got " + t.dtype());
        t.requiresGrad(true);
        parameters.put(name, Scope.detachFromScopes(t));
        return t;
    }

    /** Registers a buffer (saved in the state dict, never trained) and takes ownership. Returns it. */
    protected final Tensor registerBuffer(String name, Tensor t) {
        checkName(name);
        Objects.requireNonNull(t, "registerBuffer: tensor is null");
        buffers.put(name, Scope.detachFromScopes(t));
        return t;
    }

    private void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches())
            throw new IllegalArgumentException("invalid name '" + name + "': use letters, digits and '_' (no dots)");
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name))
            throw new IllegalArgumentException("name '" + name + "' is already registered in " + describe());
    }

    private void setPath(String p) {
        path = p;
        for (var e : children.entrySet()) e.getValue().setPath(join(p, e.getKey()));
    }

    private static String join(String prefix, String name) { return prefix.isEmpty() ? name : prefix + "." + name; }

    private String describe() {
        return getClass().getSimpleName() + (path.isEmpty() ? " (root)" : " at '" + path + "'");
    }

    // ------------------------------------------------------------------ access

    /** This module's full path from its root ("" for a root). */
    public final String path() { return path; }

    /** Direct children by name, in registration order (unmodifiable). */
    public final Map<String, Module> children() { return Collections.unmodifiableMap(children); }

    /** This module's own parameters (not its children's), in registration order (unmodifiable). */
    public final Map<String, Tensor> ownParameters() { return Collections.unmodifiableMap(parameters); }

    /** Every parameter of this module and its descendants, keyed by name relative to this module. */
    public final LinkedHashMap<String, Tensor> namedParameters() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", true, false);
        return out;
    }

    /** Every parameter, in the order of {@link #namedParameters()}. */
    public final List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Every buffer of this module and its descendants, keyed by relative name. */
    public final LinkedHashMap<String, Tensor> namedBuffers() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", false, true);
        return out;
    }

    /** This module and all descendants, keyed by relative path ("" for this one), depth first. */
    public final LinkedHashMap<String, Module> namedModules() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        walk(out, "");
        return out;
    }

    private void walk(Map<String, Module> out, String prefix) {
        out.put(prefix, this);
        for (var e : children.entrySet()) e.getValue().walk(out, join(prefix, e.getKey()));
    }

    /** Per module: its parameters, then its buffers, then each child (PyTorch's state_dict order). */
    private void collect(Map<String, Tensor> out, String prefix, boolean params, boolean bufs) {
        if (params) for (var e : parameters.entrySet()) out.put(join(prefix, e.getKey()), e.getValue());
        if (bufs) for (var e : buffers.entrySet()) out.put(join(prefix, e.getKey()), e.getValue());
        for (var e : children.entrySet()) e.getValue().collect(out, join(prefix, e.getKey()), params, bufs);
    }

    /** Total number of parameter elements. */
    public final long parameterCount() {
        long n = 0;
        for (Tensor t : namedParameters().values()) n += t.numel();
        return n;
    }

    // ------------------------------------------------------------------ modes and gradients

    /** Puts this module and its descendants in training mode; returns this. */
    public final Module train() { return train(true); }

    /** Sets training mode recursively; returns this. */
    public Module train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
        return this;
    }

    /** Puts this module and its descendants in evaluation mode (dropout off, running statistics used). */
    public final Module eval() { return train(false); }

    public final boolean isTraining() { return training; }

    /** Clears (closes) every parameter's gradient. */
    public final void zeroGrad() {
        for (Tensor p : namedParameters().values()) p.zeroGrad();
    }

    // ------------------------------------------------------------------ state dict

    /**
     * Parameters then buffers of each module, keyed by relative name. The values are the module's own tensors
     * (not copies): read or copy them, do not close them.
     */
    public final LinkedHashMap<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect(out, "", true, true);
        return out;
    }

    /** Keys that {@link #loadStateDict} could not match: expected but absent, and present but unknown. */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
        public boolean isClean() { return missingKeys.isEmpty() && unexpectedKeys.isEmpty(); }
    }

    /**
     * Copies values from {@code state} into this module's parameters and buffers (outside autograd, cast to
     * each tensor's dtype). Shapes must match exactly. With {@code strict}, missing and unexpected keys are an
     * error naming all of them; otherwise they are returned. Nothing is copied when any check fails.
     */
    public final LoadResult loadStateDict(Map<String, Tensor> state, boolean strict) {
        LinkedHashMap<String, Tensor> own = stateDict();
        List<String> missing = new ArrayList<>();
        for (String k : own.keySet()) if (!state.containsKey(k)) missing.add(k);
        List<String> unexpected = new ArrayList<>();
        for (String k : state.keySet()) if (!own.containsKey(k)) unexpected.add(k);
        List<String> mismatched = new ArrayList<>();
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) continue;
            if (!Arrays.equals(src.shape(), e.getValue().shape()))
                mismatched.add("'" + e.getKey() + "': checkpoint has shape " + Arrays.toString(src.shape())
                        + ", module has " + Arrays.toString(e.getValue().shape()));
            else if (src.dtype().isFloating() != e.getValue().dtype().isFloating())
                mismatched.add("'" + e.getKey() + "': checkpoint has dtype " + src.dtype() + ", module has " + e.getValue().dtype());
        }
        List<String> problems = new ArrayList<>();
        if (!mismatched.isEmpty()) problems.add("size mismatch for " + String.join("; ", mismatched));
        if (strict && !missing.isEmpty()) problems.add("missing keys: " + missing);
        if (strict && !unexpected.isEmpty()) problems.add("unexpected keys: " + unexpected);
        if (!problems.isEmpty())
            throw new IllegalArgumentException("loadStateDict into " + getClass().getSimpleName() + " failed: "
                    + String.join("; ", problems) + (strict ? "" : " (non-strict mode ignores only missing/unexpected keys)"));
        try (GradMode.Guard g = GradMode.noGrad()) {
            for (var e : own.entrySet()) {
                Tensor src = state.get(e.getKey());
                if (src != null && src != e.getValue()) e.getValue().copyFrom(src);
            }
        }
        return new LoadResult(List.copyOf(missing), List.copyOf(unexpected));
    }

    // ------------------------------------------------------------------ lifetime

    /** Frees every parameter, gradient and buffer of this module and its descendants. */
    @Override
    public void close() {
        Set<Tensor> all = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        all.addAll(namedParameters().values());
        all.addAll(namedBuffers().values());
        for (Tensor t : all) {
            if (t.requiresGrad()) t.zeroGrad();
            t.close();
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('(');
        Set<String> parts = new LinkedHashSet<>();
        for (var e : parameters.entrySet()) parts.add(e.getKey() + "=" + Arrays.toString(e.getValue().shape()));
        for (var e : children.entrySet()) parts.add(e.getKey() + "=" + e.getValue());
        return sb.append(String.join(", ", parts)).append(')').toString();
    }
}
