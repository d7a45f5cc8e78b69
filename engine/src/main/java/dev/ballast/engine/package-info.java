/**
 * The tensor core: {@code Tensor}, {@code DType}, {@code Device}, {@code Shape}, scopes and the ops with their
 * autograd rules.
 * <p>Knows no backend: backends are reached only through {@code dev.ballast.engine.backend}; must not depend on the
 * CPU or CUDA modules, the stability layer or training.
 */
package dev.ballast.engine;
