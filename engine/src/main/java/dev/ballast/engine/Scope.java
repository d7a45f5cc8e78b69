package dev.ballast.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;

/**
 * Frees every tensor created inside it when closed, on the thread that opened it. Scopes nest;
 * {@link #keep(Tensor)} moves a tensor out to the enclosing scope (or out of all scopes), so a result can
 * outlive the temporaries that produced it. Tensors made outside any scope are freed by {@code close()}
 * or, as a backstop, by the garbage collector.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Deque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Scope() {}

    /** Opens a scope on the current thread. */
    public static Scope open() {
        Scope s = new Scope();
        STACK.get().push(s);
        return s;
    }

    static void register(Tensor t) {
        Scope s = STACK.get().peek();
        if (s != null) s.owned.add(t);
    }

    /** Moves {@code t} out of the innermost scope holding it, into that scope's parent (or none). Returns {@code t}. */
    public static Tensor keep(Tensor t) {
        Deque<Scope> stack = STACK.get();
        Scope prev = null;
        for (Scope s : stack) { // innermost first
            if (prev != null) {
                s.owned.add(t);
                return t;
            }
            if (s.forget(t)) prev = s;
        }
        return t;
    }

    /** Removes {@code t} from every open scope on this thread: its owner (a parameter, an optimizer) frees it. */
    public static Tensor detachFromScopes(Tensor t) {
        for (Scope s : STACK.get()) s.forget(t);
        return t;
    }

    /** Number of tensors this scope will free. */
    public int size() { return owned.size(); }

    /**
     * Closes now the tensors this scope came to own after its first {@code mark} ones, except those in {@code keep}
     * (identity), and forgets them (engine use: backward frees a node's temporaries as soon as the node is done).
     */
    void closeSince(int mark, Set<Tensor> keep) {
        int w = mark;
        for (int i = mark; i < owned.size(); i++) {
            Tensor t = owned.get(i);
            if (keep.contains(t)) owned.set(w++, t);
            else t.close();
        }
        owned.subList(w, owned.size()).clear();
    }

    /** Closes {@code t} now if this scope owns it, and forgets it; returns whether it did. */
    boolean closeIfOwned(Tensor t) {
        if (!forget(t)) return false;
        t.close();
        return true;
    }

    /**
     * Drops {@code t} (by identity) from what this scope owns; returns whether it was there. Searches from the newest:
     * the tensor kept or closed early is nearly always one of the last made, so this is O(1) in practice where a search
     * from the oldest walked every temporary of a long step.
     */
    private boolean forget(Tensor t) {
        for (int i = owned.size() - 1; i >= 0; i--)
            if (owned.get(i) == t) {
                owned.remove(i);
                return true;
            }
        return false;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Deque<Scope> stack = STACK.get();
        if (stack.peek() != this)
            throw new IllegalStateException("scopes must be closed innermost first");
        stack.pop();
        for (Tensor t : owned) t.close();
        owned.clear();
    }
}
