/**
 * Gradient health in the trainer: {@link dev.ballast.train.health.HealthSession} wires the gradient monitor, the
 * explosion guard and the TensorBoard log into a {@link dev.ballast.train.Trainer} as step hooks, replays a diverged
 * step under anomaly mode to name where non-finite values came from, and turns what was seen into diagnosis findings.
 */
package dev.ballast.train.health;
