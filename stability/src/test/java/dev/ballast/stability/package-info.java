/**
 * Tests of the stability layer: clipping, the norm pass, the chain and the README example, against PyTorch
 * references and float64 arithmetic.
 */
package dev.ballast.stability;
