package dev.ballast.engine;

/**
 * How many times a storage's values were changed in place, shared by a tensor, its views and its detached
 * handles (PyTorch's version counter). Autograd records the version of every tensor an op saves for backward and
 * refuses to run the backward after the version moved. A plain field: one increment per in-place op.
 */
final class VersionCounter {
    long value;
}
