/**
 * The explosion guard: watches the loss and the gradient norm for spikes (z-score against an exponential moving
 * average) and for non-finite values, and answers with the configured policies: skip the step, cut the learning rate
 * for a while, or roll back to the last good in-memory snapshot. Every event is kept with its step, cause and action.
 */
package dev.ballast.stability.guard;
