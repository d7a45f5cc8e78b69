/**
 * Dynamic loss scaling with {@code torch.amp.GradScaler}'s semantics, its scale and growth tracker on the device.
 * <p>Depends on the engine and the norm pass in {@code clip}; must not depend on the chain, training or the CLI.
 */
package dev.ballast.stability.scale;
