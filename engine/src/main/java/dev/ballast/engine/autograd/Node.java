package dev.ballast.engine.autograd;

import dev.ballast.engine.Tensor;

/**
 * One recorded op of the autograd graph: its name, its inputs and the function that maps the gradient of
 * its output to the gradients of its inputs (null for an input that needs none). The backward function
 * and inputs are dropped after backward unless the graph is retained.
 */
public final class Node {
    private final String op;
    private final String module;
    private Tensor[] inputs;
    private Backward backward;

    /** Maps the output gradient to one gradient per input (entries may be null). */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor gradOutput);
    }

    public Node(String op, String module, Tensor[] inputs, Backward backward) {
        this.op = op;
        this.module = module;
        this.inputs = inputs;
        this.backward = backward;
    }

    /** The op's name ("matmul", "add"...). */
    public String op() { return op; }

    /** The module path that was running when the op was recorded ("layers.7.linear"), or "" at top level. */
    public String module() { return module; }

    /** Inputs, or null once freed. */
    public Tensor[] inputs() { return inputs; }

    /** Runs the backward function (engine use; autograd calls it). */
    public Tensor[] apply(Tensor grad) {
        if (backward == null)
            throw new IllegalStateException("trying to backward through the graph a second time (op '" + op
                    + "'): its saved values were freed; pass retainGraph=true to the first backward");
        return backward.apply(grad);
    }

    /** Drops saved inputs and the backward function. */
    public void free() {
        backward = null;
        inputs = null;
    }

    public boolean isFreed() { return backward == null; }
}
