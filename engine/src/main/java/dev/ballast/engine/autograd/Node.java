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
    private Tensor[] saved;
    private long[] savedVersions;

    /** Maps the output gradient to one gradient per input (entries may be null). */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor gradOutput);
    }

    public Node(String op, String module, Tensor[] inputs, Backward backward) {
        this(op, module, inputs, backward, new Tensor[0], new long[0]);
    }

    /**
     * A node whose backward reads the values of {@code saved}, which had versions {@code versions}
     * ({@link Tensor#version()}) when the op ran; {@link #apply} refuses to run once one of them changed.
     */
    public Node(String op, String module, Tensor[] inputs, Backward backward, Tensor[] saved, long[] versions) {
        this.op = op;
        this.module = module;
        this.inputs = inputs;
        this.backward = backward;
        this.saved = saved;
        this.savedVersions = versions;
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
        checkSaved();
        return backward.apply(grad);
    }

    /** Throws when a tensor this op saved for backward was changed in place since (PyTorch's version check). */
    private void checkSaved() {
        for (int i = 0; i < saved.length; i++) {
            long now = saved[i].version();
            if (now != savedVersions[i])
                throw new IllegalStateException("one of the tensors needed for gradient computation was modified by an in-place"
                        + " operation: the tensor of shape " + java.util.Arrays.toString(saved[i].shape()) + " saved by '" + op + "'"
                        + (module.isEmpty() ? "" : " in module " + module) + " is at version " + now + "; expected version "
                        + savedVersions[i] + ". Change a copy instead, or change it after backward");
        }
    }

    /** Drops saved inputs and the backward function. */
    public void free() {
        backward = null;
        inputs = null;
        saved = null;
    }

    public boolean isFreed() { return backward == null; }
}
