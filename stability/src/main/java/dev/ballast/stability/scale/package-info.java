/**
 * Dynamic loss scaling with {@code torch.amp.GradScaler}'s semantics, its scale and growth tracker on the device.
 * <p>Depends on the engine only; must not depend on the chain, training or the CLI.
 */
package dev.ballast.stability.scale;
