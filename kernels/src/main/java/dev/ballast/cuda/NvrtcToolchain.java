package dev.ballast.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What NVRTC needs around it on a real machine, decided in one place: the fp16/bf16 headers that belong to the
 * loaded NVRTC (beside it in a toolkit, in the pip wheels' {@code nvidia/.../include} folders, then
 * {@code CUDA_HOME}/{@code CUDA_PATH}, then {@code /usr/local/cuda}); the target to compile for (a cubin for the
 * device's {@code sm_XY} when this NVRTC supports it, else {@code compute_XY} PTX for the newest architecture it
 * supports below the device, which the driver JIT-compiles); and a fingerprint of the library and the headers'
 * contents, part of the kernel cache key so that another NVRTC or other headers never reuse an old module.
 */
public final class NvrtcToolchain {
    private NvrtcToolchain() {}

    /** Headers the kernels include from the toolkit (common.cuh includes cuda_fp16.h and cuda_bf16.h; they include the .hpp). */
    static final List<String> TOOLKIT_HEADERS = List.of("cuda_fp16.h", "cuda_fp16.hpp", "cuda_bf16.h", "cuda_bf16.hpp");

    /** The compile target: {@code sm_XY} (cubin) or {@code compute_XY} (PTX for the driver to JIT). */
    public record Target(String arch, boolean ptx) {
        /** The value of {@code --gpu-architecture}. */
        @Override public String toString() { return arch; }
    }

    /**
     * Folders that may hold the headers for an NVRTC loaded from {@code nvrtcLib}, best first: the toolkit layout
     * ({@code lib64/../include}, {@code targets/x86_64-linux/lib/../include}), the pip layout (an ancestor folder
     * named {@code nvidia} whose packages have an {@code include} folder: {@code nvidia/cuda_runtime/include},
     * {@code nvidia/cu13/include}, the NVRTC's own package first), then the environment's toolkit and
     * {@code /usr/local/cuda/include}.
     */
    static List<Path> includeCandidates(Optional<Path> nvrtcLib, Map<String, String> env) {
        LinkedHashSet<Path> out = new LinkedHashSet<>();
        nvrtcLib.map(p -> p.toAbsolutePath().getParent()).ifPresent(dir -> {
            out.add(dir.resolve("../include").normalize());
            out.add(dir.resolve("../../include").normalize());
            for (Path a = dir; a != null; a = a.getParent()) {
                if (a.getFileName() != null && a.getFileName().toString().equals("nvidia")) {
                    Path own = a.relativize(dir).getName(0);
                    out.add(a.resolve(own).resolve("include"));
                    try (Stream<Path> pkgs = Files.list(a)) {
                        pkgs.sorted().forEach(pkg -> out.add(pkg.resolve("include")));
                    } catch (IOException | RuntimeException unreadable) {
                        // no listing: the fixed candidates remain
                    }
                    break;
                }
            }
        });
        for (String name : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) out.add(Path.of(v, "include"));
        }
        out.add(Path.of("/usr/local/cuda/include"));
        return List.copyOf(out);
    }

    /** The first candidate holding {@code cuda_fp16.h} and {@code cuda_bf16.h}, or empty. */
    static Optional<Path> includeDir(Optional<Path> nvrtcLib, Map<String, String> env) {
        return includeCandidates(nvrtcLib, env).stream()
                .filter(d -> Files.isRegularFile(d.resolve("cuda_fp16.h")) && Files.isRegularFile(d.resolve("cuda_bf16.h")))
                .findFirst();
    }

    /**
     * The target for a device of compute capability {@code major.minor} given the architectures this NVRTC
     * supports ({@code nvrtcGetSupportedArchs}: 75, 80, ...; empty when it cannot say). A device newer than every
     * supported architecture gets PTX for the newest one (forward compatible through the driver's JIT); a device
     * older than all of them cannot be served by this NVRTC, which the message says.
     */
    static Target target(int major, int minor, int[] supported, String nvrtcName) {
        int device = major * 10 + minor;
        if (supported.length == 0) return new Target("sm_" + device, false);
        int best = -1;
        for (int a : supported) {
            if (a == device) return new Target("sm_" + device, false);
            if (a < device && a > best) best = a;
        }
        if (best < 0) {
            throw new IllegalStateException("NVRTC " + nvrtcName + " cannot compile for sm_" + device + " (it supports "
                    + archList(supported) + "); install the NVRTC of an older CUDA toolkit (e.g. 12.x for sm_70) and put it"
                    + " on LD_LIBRARY_PATH");
        }
        return new Target("compute_" + best, true);
    }

    private static String archList(int[] supported) {
        List<String> s = new ArrayList<>();
        for (int a : supported) s.add("sm_" + a);
        return String.join(", ", s);
    }

    /**
     * Everything about the compiler that decides a module's content, as one string for the kernel cache key:
     * NVRTC's version, the resolved library file with its size and modification time, and a SHA-256 of the
     * toolkit headers' contents.
     */
    static String fingerprint(int[] version, Optional<Path> nvrtcLib, Optional<Path> includeDir) {
        StringBuilder sb = new StringBuilder("nvrtc ").append(version[0]).append('.').append(version[1]);
        nvrtcLib.ifPresent(p -> {
            sb.append(' ').append(p);
            try {
                sb.append(' ').append(Files.size(p)).append(' ').append(Files.getLastModifiedTime(p).toMillis());
            } catch (IOException | RuntimeException e) {
                sb.append(" (unreadable)");
            }
        });
        includeDir.ifPresent(d -> sb.append(" headers ").append(d).append(' ').append(headersDigest(d)));
        return sb.toString();
    }

    /** SHA-256 (hex) of the toolkit headers present in {@code dir}, by name. */
    static String headersDigest(Path dir) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String h : TOOLKIT_HEADERS) {
                Path p = dir.resolve(h);
                md.update(h.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                if (Files.isRegularFile(p)) md.update(Files.readAllBytes(p));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        } catch (IOException e) {
            return "unreadable";
        }
    }
}
