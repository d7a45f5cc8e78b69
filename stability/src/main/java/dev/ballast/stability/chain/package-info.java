/**
 * The gradient chain: {@code Link}s composed in order ({@code GradientChain}) ending in an optimizer step,
 * fused into one gradient read and the optimizer's pass; the adaptive clipping links ({@code ZClip}, {@code AutoClip}).
 * <p>Depends on the engine and the other stability packages; must not depend on training or the CLI.
 */
package dev.ballast.stability.chain;
