package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Map;

/**
 * The device a {@link CudaBackend} runs on and its context: what the driver says about the card, the primary
 * context (named to the driver binding, which makes it current on whichever OS thread calls, see
 * {@link CudaDriver#useContext}) and the one non-blocking stream every primitive is queued on.
 */
final class CudaDevice {
    final CudaRuntime rt;
    final CudaDriver cu;
    final MemorySegment ctx, stream;
    final String name;
    final int ccMajor, ccMinor, sms;
    final long totalMem;

    CudaDevice(CudaRuntime rt) {
        this.rt = rt;
        this.cu = rt.driver();
        int dev = rt.device();
        name = cu.deviceName(dev);
        ccMajor = cu.deviceAttribute(CudaDriver.ATTR_CC_MAJOR, dev);
        ccMinor = cu.deviceAttribute(CudaDriver.ATTR_CC_MINOR, dev);
        sms = cu.deviceAttribute(CudaDriver.ATTR_MULTIPROCESSOR_COUNT, dev);
        totalMem = cu.deviceTotalMem(dev);
        ctx = cu.primaryCtxRetain(dev);
        cu.useContext(ctx); // every driver call binds it on its OS thread from now on
        stream = cu.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
    }

    /** Makes the context current on the calling OS thread, for library calls (cuBLAS) that do not bind it themselves. */
    void bind() { cu.bound(); }

    /** "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79 GiB)". */
    String description() {
        return name + " (sm_" + ccMajor + ccMinor + ", " + sms + " SMs, " + (totalMem >> 30) + " GiB)";
    }

    void facts(Map<String, String> f) {
        f.put("device", name + " (ordinal " + rt.ordinal() + ")");
        f.put("compute capability", ccMajor + "." + ccMinor);
        f.put("SMs", Integer.toString(sms));
        f.put("memory", String.format(Locale.ROOT, "%.1f GiB", totalMem / (double) (1L << 30)));
        f.put("driver", "CUDA " + rt.driverVersion() / 1000 + "." + rt.driverVersion() % 1000 / 10);
    }
}
