package dev.ballast.stability.chain;

import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The explicit state of one {@link Link} (optax's {@code init}/{@code update} state): named device tensors that
 * the link updates in place during a step (so a step needs no host sync), plus the states of nested links when the
 * link is itself a chain. A {@link GradientChain} creates the states with {@link Link#init}, saves them in
 * checkpoints ({@link #flatten}) and restores them ({@link #load}).
 *
 * <p>Tensors given to {@link #of} are owned: they leave every {@link Scope} and are freed by {@link #close()}.
 * Tensors given to {@link #borrowed} belong to someone else (a {@code GradScaler} the user also holds): they are
 * saved and restored but not freed.
 */
public final class LinkState implements AutoCloseable {
    private final Map<String, Tensor> tensors;
    private final Map<String, Tensor> scratch = new LinkedHashMap<>(); // owned, never checkpointed
    private final Map<String, AutoCloseable> attachments = new LinkedHashMap<>(); // owned, never checkpointed
    private final List<LinkState> children;
    private final boolean owned;

    private LinkState(Map<String, Tensor> tensors, List<LinkState> children, boolean owned) {
        for (String name : tensors.keySet())
            if (name.isEmpty() || name.contains(".") || Character.isDigit(name.charAt(0)))
                throw new IllegalArgumentException("link state name '" + name
                        + "' must be non-empty, without '.', and not start with a digit (digits name nested links)");
        this.tensors = new LinkedHashMap<>(tensors);
        this.children = List.copyOf(children);
        this.owned = owned;
        if (owned) for (Tensor t : this.tensors.values()) Scope.detachFromScopes(t);
    }

    /** No state: what stateless links (clipping by value or norm, skipping) return from {@code init}. */
    public static LinkState empty() { return new LinkState(Map.of(), List.of(), true); }

    /** State made of {@code tensors}, which this state now owns (freed by {@link #close()}). */
    public static LinkState of(Map<String, Tensor> tensors) { return new LinkState(tensors, List.of(), true); }

    /** State made of tensors owned elsewhere: saved and restored in place, never freed here. */
    public static LinkState borrowed(Map<String, Tensor> tensors) { return new LinkState(tensors, List.of(), false); }

    /** The state of a chain: one child per link, in order. */
    public static LinkState ofChildren(List<LinkState> children) { return new LinkState(Map.of(), children, true); }

    /** The tensor {@code name}; throws naming the known names when there is none. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("link state has no '" + name + "' (has " + tensors.keySet() + ")");
        return t;
    }

    /**
     * Scratch tensor {@code name}, or null: device memory the link keeps between steps but that is no part of its
     * state for checkpoints (e.g. the explosion guard's last-good snapshot of the weights, as large as the model).
     */
    public Tensor scratch(String name) { return scratch.get(name); }

    /** Every scratch tensor, by name (live, in insertion order). */
    public Map<String, Tensor> scratch() { return java.util.Collections.unmodifiableMap(scratch); }

    /**
     * Keeps {@code t} as scratch tensor {@code name}: owned by this state (out of every scope, freed by
     * {@link #close()}, a tensor it replaces is freed now), never saved in checkpoints nor restored from them.
     */
    public Tensor putScratch(String name, Tensor t) {
        Scope.detachFromScopes(t);
        Tensor old = scratch.put(name, t);
        if (old != null && old != t) old.close();
        return t;
    }

    /**
     * Scratch memory that is not a tensor (e.g. an optimizer's state snapshot), made by {@code make} at the first call
     * for {@code name}: owned like scratch tensors, closed by {@link #close()}, never checkpointed.
     */
    public <T extends AutoCloseable> T attachment(String name, Class<T> type, java.util.function.Supplier<T> make) {
        return type.cast(attachments.computeIfAbsent(name, k -> make.get()));
    }

    /** Whether attachment {@code name} was made. */
    public boolean hasAttachment(String name) { return attachments.containsKey(name); }

    /** The named tensors of this link (not of nested links), in insertion order. */
    public Map<String, Tensor> tensors() { return java.util.Collections.unmodifiableMap(tensors); }

    /** The states of nested links (empty unless this is a chain's state). */
    public List<LinkState> children() { return children; }

    /**
     * Every tensor with its key: {@code name} for this link's own, {@code <i>.<key>} for nested link {@code i}.
     * The tensors are the live state (not copies): read them, do not write them.
     */
    public Map<String, Tensor> flatten() {
        Map<String, Tensor> out = new LinkedHashMap<>(tensors);
        for (int i = 0; i < children.size(); i++)
            for (var e : children.get(i).flatten().entrySet()) out.put(i + "." + e.getKey(), e.getValue());
        return out;
    }

    /**
     * Copies saved values into the live tensors. {@code saved} must hold exactly the keys of {@link #flatten()},
     * each with the same shape and dtype; it is checked first, so a bad map changes nothing.
     */
    public void load(Map<String, Tensor> saved) {
        Map<String, Tensor> live = flatten();
        if (!live.keySet().equals(saved.keySet()))
            throw new IllegalArgumentException("link state: saved entries " + saved.keySet() + " do not match this chain's "
                    + live.keySet());
        for (var e : live.entrySet()) {
            Tensor t = e.getValue(), s = saved.get(e.getKey());
            if (!Arrays.equals(t.shape(), s.shape()) || t.dtype() != s.dtype())
                throw new IllegalArgumentException("link state '" + e.getKey() + "': saved " + Arrays.toString(s.shape()) + " "
                        + s.dtype() + " but this chain has " + Arrays.toString(t.shape()) + " " + t.dtype());
        }
        try (GradMode.Guard ng = GradMode.noGrad()) {
            for (var e : live.entrySet()) e.getValue().copyFrom(saved.get(e.getKey()));
        }
    }

    /** Frees the tensors this state owns, and its children's. */
    @Override
    public void close() {
        if (owned) for (Tensor t : tensors.values()) t.close();
        for (Tensor t : scratch.values()) t.close();
        scratch.clear();
        for (AutoCloseable a : attachments.values()) {
            try {
                a.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing link state attachment: " + e.getMessage(), e);
            }
        }
        attachments.clear();
        for (LinkState c : children) c.close();
    }
}
