/**
 * The Philox 4x32 counter-based generator that makes random tensors reproducible on every backend.
 * <p>Pure arithmetic; depends on nothing.
 */
package dev.ballast.engine.random;
