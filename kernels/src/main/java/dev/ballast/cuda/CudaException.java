package dev.ballast.cuda;

/**
 * A CUDA, NVRTC or cuBLAS call returned an error status. Carries the call's name, the numeric status,
 * the library's name for it ({@code cuGetErrorName}, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}) and, for
 * kernel launches, the kernel's name.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int status;
    private final String statusName;

    public CudaException(String call, int status, String statusName, String detail) {
        super(call + " failed: " + statusName + " (" + status + ")" + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.call = call;
        this.status = status;
        this.statusName = statusName;
    }

    /** The function that failed, e.g. {@code cuLaunchKernel}. */
    public String call() { return call; }

    /** The numeric status the library returned. */
    public int status() { return status; }

    /** The library's symbolic name for the status, e.g. {@code CUDA_ERROR_NO_DEVICE}. */
    public String statusName() { return statusName; }
}
