/**
 * The trainer: runs a model, a loss and a gradient chain over a data loader, with logging, checkpoints and resume.
 * <p>Above the stability layer; must not depend on the CLI.
 */
package dev.ballast.train;
