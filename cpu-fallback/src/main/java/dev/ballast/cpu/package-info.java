/**
 * The CPU backend: the {@code Backend} implementation found through {@code ServiceLoader}, its storage in
 * native memory and the block cache for large tensors.
 * <p>Implements the engine's SPI; must not depend on the CUDA backend, the stability layer or training.
 */
package dev.ballast.cpu;
