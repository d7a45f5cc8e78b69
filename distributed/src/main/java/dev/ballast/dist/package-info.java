/**
 * Data-parallel plumbing above the engine: {@link dev.ballast.dist.Communicators} picks the communicator a process was
 * launched for (MPI under {@code mpirun} or {@code srun}, else the single process), {@link dev.ballast.dist.FlatBuffer}
 * packs a list of tensors into one host buffer per dtype for a fused collective, and {@link dev.ballast.dist.Watchdog}
 * stops a rank whose collective waits too long for a peer that died.
 */
package dev.ballast.dist;
