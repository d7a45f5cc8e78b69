/**
 * Replays PyTorch-made reference files (clip, clip-value, GradScaler, chain cases) on a device and compares
 * within each file's tolerance; behind {@code ballast verify-reference}.
 * <p>Depends on the engine and the stability layer; must not depend on training or the CLI.
 */
package dev.ballast.stability.reference;
