package dev.ballast.dist.nccl;

/** An NCCL call that failed; the message names the call, the library and NCCL's error string. */
public final class NcclException extends RuntimeException {
    public NcclException(String message) { super(message); }

    public NcclException(String message, Throwable cause) { super(message, cause); }
}
