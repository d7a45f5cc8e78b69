package dev.ballast.dist.mpi;

/** An MPI library that could not be loaded or a call that failed; the message names the library and the call. */
public final class MpiException extends RuntimeException {
    public MpiException(String message) { super(message); }

    public MpiException(String message, Throwable cause) { super(message, cause); }
}
