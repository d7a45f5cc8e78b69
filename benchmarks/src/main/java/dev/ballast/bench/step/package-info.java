/**
 * {@code ballast bench step}: full training steps (forward, backward, clip by global norm, optimizer) of reference
 * models built with Ballast's own layers ({@link dev.ballast.bench.step.StepModels}), timed beside PyTorch running
 * the same models ({@code step_models.py}, a resource of this package) in the same command.
 */
package dev.ballast.bench.step;
