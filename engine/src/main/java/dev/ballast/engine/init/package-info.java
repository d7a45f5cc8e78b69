/**
 * Weight initialisation (Xavier, Kaiming, orthogonal and friends) with PyTorch's fan conventions.
 * <p>Depends on the engine core only.
 */
package dev.ballast.engine.init;
