/**
 * The cuBLAS binding through FFM ({@code cublasGemmEx} and friends).
 * <p>Raw binding; must not depend on tensors.
 */
package dev.ballast.cuda.cublas;
