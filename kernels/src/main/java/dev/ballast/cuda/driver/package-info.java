/**
 * The CUDA driver API binding through FFM: contexts, streams, modules, launches, memory.
 * <p>Raw binding, one {@code MethodHandle} per function; must not depend on tensors.
 */
package dev.ballast.cuda.driver;
