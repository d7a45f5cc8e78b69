/**
 * Collective communication between the processes of a data-parallel run: the {@link dev.ballast.engine.dist.Communicator}
 * interface (rank, size, all-reduce, broadcast, barrier) and its single-process identity. Implementations over MPI
 * and NCCL live in the {@code distributed} module above the engine.
 */
package dev.ballast.engine.dist;
