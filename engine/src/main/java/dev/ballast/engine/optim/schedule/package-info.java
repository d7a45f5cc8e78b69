/**
 * Learning-rate schedules (constant, linear warmup, cosine, step decay) evaluated on the host.
 * <p>Pure functions of the step; depend on nothing else.
 */
package dev.ballast.engine.optim.schedule;
