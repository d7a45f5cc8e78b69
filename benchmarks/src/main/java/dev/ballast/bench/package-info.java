/**
 * Side-by-side benchmark drivers behind {@code ballast bench}: matmul, elementwise ops and clipping against
 * PyTorch or NumPy run in the same command, reported as ratios, plus the shared timing and report helpers.
 * <p>Depends on the engine, the stability layer and the backends; nothing in the product depends on it except the CLI.
 */
package dev.ballast.bench;
