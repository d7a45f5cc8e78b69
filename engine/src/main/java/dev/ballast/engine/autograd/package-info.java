/**
 * Reverse-mode autograd bookkeeping: graph nodes, grad mode ({@code noGrad}) and anomaly reporting.
 * <p>Part of the engine core; must not depend on backends, layers or optimizers.
 */
package dev.ballast.engine.autograd;
