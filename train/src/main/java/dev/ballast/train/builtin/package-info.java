/**
 * The built-in tasks, models and training configurations behind {@code ballast train} and its config file.
 * <p>Above the stability layer; must not depend on the CLI.
 */
package dev.ballast.train.builtin;
