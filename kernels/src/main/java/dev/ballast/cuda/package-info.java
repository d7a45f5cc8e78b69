/**
 * The CUDA backend: the {@code Backend} implementation over the driver API, kernels compiled by NVRTC from the
 * {@code .cu} sources, launch arguments and the fused multi-tensor operations.
 * <p>Implements the engine's SPI; must not depend on the CPU backend, the stability layer or training.
 */
package dev.ballast.cuda;
