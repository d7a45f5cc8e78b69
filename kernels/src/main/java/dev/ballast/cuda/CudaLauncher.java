package dev.ballast.cuda;

import dev.ballast.cuda.nvrtc.Nvrtc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Kernels of a {@link CudaBackend}: NVRTC with what it needs around it ({@link NvrtcToolchain}: headers, target,
 * cache fingerprint), the on-disk {@link KernelCache}, modules loaded once per process, functions looked up
 * once, and the three launch shapes the primitives use (grid-stride, explicit grid, one block per row).
 */
final class CudaLauncher {
    static final int BLOCK = 256;

    private final CudaDevice device;
    private final Nvrtc nvrtc;
    private final int[] nvrtcVersion;
    private final Optional<Path> includeDir;
    private final NvrtcToolchain.Target target;
    private final KernelCache kernelCache;
    private final KernelCache.Modules<MemorySegment> modules;
    private final Map<String, MemorySegment> functions = new ConcurrentHashMap<>();

    CudaLauncher(CudaDevice device) {
        this.device = device;
        nvrtc = new Nvrtc(device.rt.nvrtc());
        nvrtcVersion = nvrtc.version();
        Optional<Path> nvrtcFile = CudaLibraries.loadedPath("libnvrtc.so");
        includeDir = NvrtcToolchain.includeDir(nvrtcFile, System.getenv());
        List<String> options = new ArrayList<>(List.of("-std=c++17"));
        includeDir.ifPresent(d -> options.add("--include-path=" + d));
        target = NvrtcToolchain.target(device.ccMajor, device.ccMinor, nvrtc.supportedArchs(), versionString() + " (" + nvrtc.origin() + ")");
        kernelCache = new KernelCache(nvrtc::compile, target.arch(), NvrtcToolchain.fingerprint(nvrtcVersion, nvrtcFile, includeDir),
                options, KernelCache.defaultDir());
        modules = new KernelCache.Modules<>(kernelCache, image -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment m = a.allocate(image.length + 1L, 16); // + NUL: PTX is text
                MemorySegment.copy(image, 0, m, ValueLayout.JAVA_BYTE, 0, image.length);
                return device.cu.moduleLoadData(m);
            }
        });
    }

    private String versionString() { return nvrtcVersion[0] + "." + nvrtcVersion[1]; }

    void facts(Map<String, String> f) {
        f.put("NVRTC", versionString() + " (" + CudaLibraries.loadedPath("libnvrtc.so").map(Path::toString).orElse(nvrtc.origin())
                + "), target " + target.arch() + (target.ptx() ? " (PTX, JIT-compiled by the driver)" : " (cubin)"));
        f.put("CUDA headers", includeDir.map(Path::toString).orElse("none found (cuda_fp16.h, cuda_bf16.h): kernels will not compile"));
        f.put("kernel cache", kernelCache.dir().toString());
    }

    /** How many kernel files this process compiled rather than read from the disk cache. */
    int compiles() { return kernelCache.compiles(); }

    private MemorySegment function(String file, String kernel) {
        return functions.computeIfAbsent(file + ":" + kernel, k -> device.cu.moduleGetFunction(modules.get(file), kernel));
    }

    /** Grid-stride launch over {@code work} items. */
    void launch(String file, String kernel, long work, LaunchArgs a) {
        long blocks = Math.clamp(Math.ceilDiv(Math.max(work, 1), BLOCK), 1, (long) device.sms * 32);
        device.cu.launchKernel(function(file, kernel), kernel, (int) blocks, 1, 1, BLOCK, 1, 1, 0, device.stream, a.params());
    }

    /** An explicit grid of {@code blocks} blocks of {@code threads} threads. */
    void launchGrid(String file, String kernel, int blocks, int threads, LaunchArgs a) {
        device.cu.launchKernel(function(file, kernel), kernel, blocks, 1, 1, threads, 1, 1, 0, device.stream, a.params());
    }

    /** One block per row (rows beyond the grid are looped over inside the kernel). */
    void launchBlocks(String file, String kernel, long rows, LaunchArgs a) {
        long blocks = Math.clamp(rows, 1, (long) device.sms * 64);
        device.cu.launchKernel(function(file, kernel), kernel, (int) blocks, 1, 1, BLOCK, 1, 1, 0, device.stream, a.params());
    }
}
