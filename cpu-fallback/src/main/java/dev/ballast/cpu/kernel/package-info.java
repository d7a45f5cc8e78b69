/**
 * The CPU backend's inner loops: Vector API elementwise, reductions, copies, indexing, softmax and random fill,
 * parallelised with ForkJoin.
 * <p>Works on raw memory segments and strides; must not depend on {@code Tensor} or autograd.
 */
package dev.ballast.cpu.kernel;
