/**
 * The backend SPI: {@code Backend}, its provider, storage, the op enums and the fused multi-tensor operations
 * a backend may offer.
 * <p>Implemented by the CPU and CUDA modules; must depend on nothing above it (no {@code Tensor}, no layers).
 */
package dev.ballast.engine.backend;
