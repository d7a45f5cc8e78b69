package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.cuda.nvrtc.Nvrtc;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

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
        int dev = driver.device(ordinal);
        int cc = driver.deviceAttribute(CudaDriver.ATTR_CC_MAJOR, dev) * 10 + driver.deviceAttribute(CudaDriver.ATTR_CC_MINOR, dev);
        // The newest NVRTC that can compile for this device: NVRTC 13 dropped sm_70 and older, so such a device
        // needs NVRTC 12 even under a CUDA 13 driver. A device newer than an NVRTC's newest target is fine (PTX).
        Optional<CudaLibraries.Loaded> nvrtc = Optional.empty();
        List<String> refused = new ArrayList<>();
        for (String name : nvrtcNames) {
            var lib = CudaLibraries.findFirst(List.of(name));
            if (lib.isEmpty()) continue;
            int[] archs;
            try {
                archs = new Nvrtc(lib.get()).supportedArchs();
            } catch (RuntimeException | UnsatisfiedLinkError e) {
                archs = new int[0]; // cannot say: try it
            }
            if (archs.length == 0 || Arrays.stream(archs).min().getAsInt() <= cc) {
                nvrtc = lib;
                break;
            }
            refused.add(lib.get().origin() + " (oldest target sm_" + Arrays.stream(archs).min().getAsInt() + ")");
        }
        if (nvrtc.isEmpty() && !refused.isEmpty())
            return new Result.Missing("no NVRTC compiles for this sm_" + cc + " device: " + String.join(", ", refused)
                    + "; put an older toolkit's NVRTC (CUDA 12) on " + CudaLibraries.LIB_DIRS_ENV + " or LD_LIBRARY_PATH");
        if (nvrtc.isEmpty())
            return new Result.Missing("NVRTC not found (tried " + String.join(", ", nvrtcNames) + "; driver supports CUDA "
                    + version / 1000 + "." + version % 1000 / 10 + ")");
        List<String> cublasNames = CudaLibraries.cublasCandidates(version);
        var cublas = CudaLibraries.findFirst(cublasNames);
        if (cublas.isEmpty())
            return new Result.Missing("cuBLAS not found (tried " + String.join(", ", cublasNames) + ")");
        return new Result.Found(new CudaRuntime(driver, ordinal, dev, version, nvrtc.get(), cublas.get()));
    }
}
