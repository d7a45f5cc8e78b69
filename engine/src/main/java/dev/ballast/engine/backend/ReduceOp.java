package dev.ballast.engine.backend;

/**
 * Reductions over the middle axis of an {@code [outer, n, inner]} view. SUM uses pairwise
 * summation in a fixed order so the result does not depend on the thread count. ARGMAX and ARGMIN
 * write I64 indices (the first index on ties); MAX and MIN propagate NaN.
 */
public enum ReduceOp { SUM, MAX, MIN, ARGMAX, ARGMIN }
