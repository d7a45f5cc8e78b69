/**
 * Open MPI bound through {@code java.lang.foreign}: {@link dev.ballast.dist.mpi.Mpi} holds one method handle per MPI
 * function used and the predefined handles (exported globals such as {@code ompi_mpi_comm_world}),
 * {@link dev.ballast.dist.mpi.MpiCommunicator} runs the engine's collectives on CPU tensors through it.
 */
package dev.ballast.dist.mpi;
