/**
 * The CPU's fused multi-tensor operations: the norm pass with its non-finite flag, and the fused AdamW/SGD
 * updates that apply a clip coefficient and honour the device-side skip flag in their own pass.
 * <p>Depends only on the engine's SPI and this backend's kernels.
 */
package dev.ballast.cpu.fused;
