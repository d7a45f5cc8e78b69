package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import java.util.List;

/**
 * What a successful probe found: the bound driver (already initialized), the device ordinal and
 * handle, the driver's CUDA version, and the NVRTC and cuBLAS libraries matching that version.
 */
public record CudaRuntime(CudaDriver driver, int ordinal, int device, int driverVersion,
                          CudaLibraries.Loaded nvrtc, CudaLibraries.Loaded cublas) {

    /** The result of {@link #probe()}: a runtime, or the one-line reason there is none. */
    public sealed interface Result {
        record Found(CudaRuntime runtime) implements Result {}
        record Missing(String reason) implements Result {}
    }

    /** System property that turns the CUDA backend off ({@code -Dballast.cuda.disable=true}). */
    public static final String DISABLE_PROPERTY = "ballast.cuda.disable";
    /** System property choosing the device ordinal (default 0). */
    public static final String DEVICE_PROPERTY = "ballast.cuda.device";

    /**
     * Looks for a usable CUDA setup, step by step, and says in one line what is missing. Never throws
     * for the ordinary cases: disabled, no driver library, cuInit failing, no device, no NVRTC, no cuBLAS.
     */
    public static Result probe() {
        if (Boolean.getBoolean(DISABLE_PROPERTY)) return new Result.Missing("disabled by " + DISABLE_PROPERTY);
        var libcuda = CudaLibraries.findLibcuda();
        if (libcuda.isEmpty())
            return new Result.Missing(CudaLibraries.LIBCUDA + " not found (searched the loader path, "
                    + String.join(", ", CudaLibraries.COMMON_DIRS) + " and LD_LIBRARY_PATH)");
        CudaDriver driver;
        try {
            driver = new CudaDriver(libcuda.get());
        } catch (UnsatisfiedLinkError | IllegalArgumentException e) {
            return new Result.Missing("driver library too old: " + e.getMessage());
        }
        try {
            driver.init(0);
        } catch (CudaException e) {
            return new Result.Missing("cuInit failed: " + e.statusName());
        }
        int count = driver.deviceCount();
        if (count <= 0) return new Result.Missing("no CUDA device");
        int ordinal = Integer.getInteger(DEVICE_PROPERTY, 0);
        if (ordinal < 0 || ordinal >= count)
            return new Result.Missing(DEVICE_PROPERTY + "=" + ordinal + " but only devices 0.." + (count - 1) + " exist");
        int version = driver.driverVersion();
        List<String> nvrtcNames = CudaLibraries.nvrtcCandidates(version);
        var nvrtc = CudaLibraries.findFirst(nvrtcNames);
        if (nvrtc.isEmpty())
            return new Result.Missing("NVRTC not found (tried " + String.join(", ", nvrtcNames) + "; driver supports CUDA "
                    + version / 1000 + "." + version % 1000 / 10 + ")");
        List<String> cublasNames = CudaLibraries.cublasCandidates(version);
        var cublas = CudaLibraries.findFirst(cublasNames);
        if (cublas.isEmpty())
            return new Result.Missing("cuBLAS not found (tried " + String.join(", ", cublasNames) + ")");
        return new Result.Found(new CudaRuntime(driver, ordinal, driver.device(ordinal), version, nvrtc.get(), cublas.get()));
    }
}
