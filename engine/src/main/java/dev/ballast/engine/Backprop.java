package dev.ballast.engine;

import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.autograd.Node;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation over the recorded graph. Visits tensors in reverse topological order, runs
 * each tensor's hooks on its gradient, accumulates into leaves' {@code grad} (taking a private contiguous copy
 * the first time, so a gradient never aliases a temporary) and frees the graph unless retained. All
 * temporaries live in a scope that closes when backward returns. A leaf's post-accumulate hooks run as soon as
 * its gradient is accumulated, which is final then: every consumer of the leaf was visited before it.
 */
final class Backprop {
    private Backprop() {}

    /** Whether this thread is inside backward, so anomaly reports made by ops there say "in backward". */
    private static final ThreadLocal<boolean[]> RUNNING = ThreadLocal.withInitial(() -> new boolean[1]);

    static boolean isRunning() { return RUNNING.get()[0]; }

    static void run(Tensor root, Tensor gradOutput, boolean retainGraph) {
        if (!root.requiresGrad)
            throw new IllegalStateException("backward: tensor " + Shape.str(root.shape)
                    + " does not require grad (no input had requiresGrad(true), or it was made under noGrad)");
        if (gradOutput == null && root.numel() != 1)
            throw new IllegalArgumentException("backward: implicit gradient needs a one-element output, got shape "
                    + Shape.str(root.shape) + "; pass a gradient of the same shape");
        if (gradOutput != null && !java.util.Arrays.equals(gradOutput.shape, root.shape))
            throw new IllegalArgumentException("backward: gradient shape " + Shape.str(gradOutput.shape)
                    + " does not match output shape " + Shape.str(root.shape));
        List<Tensor> order = topologicalOrder(root);
        boolean[] running = RUNNING.get();
        boolean wasRunning = running[0];
        running[0] = true;
        try (Scope scope = Scope.open(); GradMode.Guard ng = GradMode.noGrad(); Autocast.Guard ac = Autocast.disable()) {
            Map<Tensor, Tensor> grads = new IdentityHashMap<>();
            grads.put(root, gradOutput != null ? gradOutput : Tensor.ones(root.device, root.dtype, root.shape));
            for (Tensor t : order) {
                Tensor g = grads.remove(t);
                if (g == null) continue;
                if (t.hooks != null) for (var hook : t.hooks) g = hook.apply(g);
                if (GradMode.isAnomalyEnabled() && t.gradFn != null) checkInModule(g, t.gradFn);
                if (t.gradFn == null || t.retainsGrad) accumulate(t, g);
                if (t.gradFn == null && t.postAccumulateHooks != null)
                    for (var hook : List.copyOf(t.postAccumulateHooks)) hook.accept(t);
                Node node = t.gradFn;
                if (node == null) continue;
                Tensor[] inputs = node.inputs();
                if (inputs == null) node.apply(g); // throws the "second backward" message
                Tensor[] ig = applyNode(node, g);
                for (int i = 0; i < inputs.length; i++) {
                    Tensor in = inputs[i];
                    if (in == null || !in.requiresGrad || ig[i] == null) continue;
                    // a gradient has its tensor's dtype (as in torch): a half product's gradient is rounded to half
                    if (ig[i].dtype != in.dtype && in.dtype.isFloating() && ig[i].dtype.isFloating()) ig[i] = ig[i].to(in.dtype);
                    if (GradMode.isAnomalyEnabled()) checkInModule(ig[i], node);
                    Tensor prev = grads.get(in);
                    grads.put(in, prev == null ? ig[i] : prev.add(ig[i]));
                }
                if (!retainGraph) node.free();
            }
        } finally {
            running[0] = wasRunning;
        }
    }

    /** Anomaly check of a gradient, reported against the module that recorded {@code node}. */
    private static void checkInModule(Tensor g, Node node) {
        try (GradMode.Guard m = GradMode.enterModule(node.module())) {
            Ops.checkFinite(g, node.op(), true);
        }
    }

    private static Tensor[] applyNode(Node node, Tensor g) {
        try (GradMode.Guard m = GradMode.enterModule(node.module())) {
            return node.apply(g);
        }
    }

    private static void accumulate(Tensor t, Tensor g) {
        Tensor gg = g.dtype == t.dtype ? g : g.to(t.dtype);
        if (t.grad == null) {
            Tensor spare = t.spareGrad;
            t.spareGrad = null;
            Tensor copy = spare != null && java.util.Arrays.equals(spare.shape, t.shape) && spare.dtype == t.dtype ? spare : null;
            if (copy == null) {
                if (spare != null) spare.close();
                copy = Scope.detachFromScopes(Tensor.empty(t.device, t.dtype, t.shape));
            }
            t.backend().copy(Ops.broadcastView(gg, t.shape), copy.view());
            t.grad = copy;
        } else {
            t.grad.addInPlace(gg);
        }
    }

    /** Tensors reachable from root through nodes, each after every tensor that consumes it. */
    private static List<Tensor> topologicalOrder(Tensor root) {
        List<Tensor> post = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[]{root, 0});
        seen.add(root);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Tensor t = (Tensor) frame[0];
            int i = (int) frame[1];
            Tensor[] ins = t.gradFn == null ? null : t.gradFn.inputs();
            if (ins != null && i < ins.length) {
                frame[1] = i + 1;
                Tensor in = ins[i];
                if (in != null && in.requiresGrad && seen.add(in)) stack.push(new Object[]{in, 0});
            } else {
                stack.pop();
                post.add(t);
            }
        }
        Collections.reverse(post);
        return post;
    }
}
