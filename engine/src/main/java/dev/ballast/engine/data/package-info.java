/**
 * Datasets and loaders: the built-in synthetic tasks (spirals, adding problem, sequence tasks, teacher-student),
 * IDX files and a seeded batching loader.
 * <p>Produces tensors; may use losses to score tasks; must not depend on optimizers, the stability layer or training.
 */
package dev.ballast.engine.data;
