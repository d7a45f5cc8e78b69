/**
 * Gradient clipping with PyTorch's semantics: global norm ({@code clip_grad_norm_}), value, adaptive (AGC), and
 * the fused norm pass with its non-finite flag.
 * <p>Depends on the engine only; must not depend on the chain, training or the CLI.
 */
package dev.ballast.stability.clip;
