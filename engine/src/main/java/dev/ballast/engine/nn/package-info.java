/**
 * Layers and losses: {@code Module}, linear, normalisation, recurrent and attention layers, activations.
 * <p>Built on the engine core and autograd; must not depend on optimizers, the stability layer or training.
 */
package dev.ballast.engine.nn;
