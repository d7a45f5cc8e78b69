/**
 * Device memory: the caching allocator and device buffers.
 * <p>Depends on the driver binding only.
 */
package dev.ballast.cuda.memory;
