/**
 * Probes of a network's gradients outside training: the shattered-gradients probe (Balduzzi et al. 2017) measures how
 * correlated the input gradient stays along a line of inputs.
 */
package dev.ballast.train.probe;
