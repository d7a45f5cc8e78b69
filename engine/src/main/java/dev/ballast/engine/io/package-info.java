/**
 * Files: safetensors and .npy readers and writers, checkpoints with checksums, a small JSON codec and atomic
 * writes (temporary name, then rename).
 * <p>Depends on the engine core; must not depend on layers' or optimizers' internals beyond their state maps.
 */
package dev.ballast.engine.io;
