/**
 * The CPU matmul: packed, register-blocked float32 and float64 GEMM with its own workspace and parallel split.
 * <p>Works on raw memory; must not depend on {@code Tensor} or autograd.
 */
package dev.ballast.cpu.matmul;
