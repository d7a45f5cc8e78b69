/**
 * The explosion guard, a link of the gradient chain ({@code ExplosionGuard}): watches the loss and the gradient norm
 * for spikes (z-score against an exponential moving average) and for non-finite values, and answers on the device
 * with the configured policies: skip the step, cut the learning rate for a while, or roll back to the last good
 * snapshot (device copies). {@code GuardLog} reads its counters and events where the caller syncs anyway.
 * <p>Depends on the engine and the chain's {@code Link} API; must not depend on training or the CLI.
 */
package dev.ballast.stability.guard;
