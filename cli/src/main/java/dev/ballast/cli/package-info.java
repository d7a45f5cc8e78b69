/**
 * The {@code ballast} command line (picocli): doctor, train, verify-reference and the bench commands.
 * <p>The top of the dependency graph: it may use every module; no module may depend on it.
 */
package dev.ballast.cli;
