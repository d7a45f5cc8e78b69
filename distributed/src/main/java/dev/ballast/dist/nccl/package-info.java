/**
 * NVIDIA NCCL bound through {@code java.lang.foreign}, for data-parallel runs on CUDA tensors:
 * {@link dev.ballast.dist.nccl.Nccl} holds the method handles, {@link dev.ballast.dist.nccl.NcclCommunicator} runs the
 * collectives on the CUDA backend's stream, bootstrapped over another communicator (MPI). Optional at run time:
 * loaded when {@code libnccl.so.2} is present, like cuBLAS.
 */
package dev.ballast.dist.nccl;
