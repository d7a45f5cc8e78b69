package dev.ballast.engine.autograd;

/** Thrown in anomaly mode when an op first produces a non-finite value; names the op, module and shapes. */
public final class AnomalyException extends ArithmeticException {
    private final String op;
    private final String module;
    private final boolean inBackward;

    public AnomalyException(String op, String module, boolean inBackward, String detail) {
        super("non-finite value produced by '" + op + "'" + (inBackward ? " in backward" : " in forward")
                + (module.isEmpty() ? "" : " in module '" + module + "'") + ": " + detail);
        this.op = op;
        this.module = module;
        this.inBackward = inBackward;
    }

    /** The op that produced the value. */
    public String op() { return op; }

    /** The module path, or "" when the op ran outside any module. */
    public String module() { return module; }

    /** Whether the value appeared while computing gradients. */
    public boolean inBackward() { return inBackward; }
}
