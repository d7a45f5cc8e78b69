package dev.ballast.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiled kernels: each source file is compiled once per (source, headers, options, architecture,
 * compiler version), kept on disk under {@code <cache dir>/kernels} as {@code <file>-<arch>-<sha256>.cubin},
 * and loaded once per process. A compile error propagates with the compiler's log and the file's name;
 * a cache folder that cannot be written only costs a recompile next time.
 */
public final class KernelCache {
    /** Turns a source into a cubin (NVRTC on a GPU machine, a fake in tests). */
    @FunctionalInterface
    public interface Compiler {
        byte[] compile(String source, String fileName, Map<String, String> headers, List<String> options);
    }

    /** Loads a cubin into the driver and returns the module handle (opaque here). */
    @FunctionalInterface
    public interface Loader<M> {
        M load(byte[] cubin);
    }

    /** System property for the cache root; default {@code ~/.cache/ballast}. */
    public static final String CACHE_DIR_PROPERTY = "ballast.cache.dir";

    private final Compiler compiler;
    private final String arch;
    private final String compilerVersion;
    private final List<String> options;
    private final Path dir;
    private volatile int compiles;

    /**
     * @param arch            e.g. {@code sm_90}
     * @param compilerVersion e.g. {@code nvrtc 13.0}; part of the key so a new compiler recompiles
     * @param extraOptions    options beyond the architecture (include paths, language standard)
     */
    public KernelCache(Compiler compiler, String arch, String compilerVersion, List<String> extraOptions, Path dir) {
        this.compiler = compiler;
        this.arch = arch;
        this.compilerVersion = compilerVersion;
        java.util.ArrayList<String> o = new java.util.ArrayList<>();
        o.add("--gpu-architecture=" + arch);
        o.addAll(extraOptions);
        this.options = List.copyOf(o);
        this.dir = dir;
    }

    /** The default folder: {@code ${ballast.cache.dir:-~/.cache/ballast}/kernels}. */
    public static Path defaultDir() {
        String root = System.getProperty(CACHE_DIR_PROPERTY);
        Path base = root != null && !root.isBlank() ? Path.of(root) : Path.of(System.getProperty("user.home"), ".cache", "ballast");
        return base.resolve("kernels");
    }

    public Path dir() { return dir; }

    public List<String> options() { return options; }

    /** How many compiles this cache ran (not served from disk). */
    public int compiles() { return compiles; }

    /** The cubin for a source file: from disk when a matching one is there, else compiled and stored. */
    public byte[] cubin(String fileName, String source, Map<String, String> headers) {
        String key = key(source, headers);
        String stem = fileName.replaceAll("\\.cu$", "");
        Path file = dir.resolve(stem + "-" + arch + "-" + key.substring(0, 32) + ".cubin");
        try {
            if (Files.isRegularFile(file)) return Files.readAllBytes(file);
        } catch (IOException unreadable) {
            // fall through and compile again
        }
        byte[] cubin = compiler.compile(source, fileName, headers, options);
        compiles++;
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, stem, ".tmp");
            Files.write(tmp, cubin);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException notWritable) {
            // the cache is an optimization: a read-only home only costs compile time
        }
        return cubin;
    }

    /** SHA-256 (hex) of everything that decides the cubin's content. */
    public String key(String source, Map<String, String> headers) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            update(md, source);
            new java.util.TreeMap<>(headers).forEach((k, v) -> { update(md, k); update(md, v); });
            for (String o : options) update(md, o);
            update(md, arch);
            update(md, compilerVersion);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private static void update(MessageDigest md, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        md.update((byte) (b.length >>> 24)); md.update((byte) (b.length >>> 16));
        md.update((byte) (b.length >>> 8)); md.update((byte) b.length);
        md.update(b);
    }

    /** Per-process memo of loaded modules, by file name. */
    public static final class Modules<M> {
        private final Map<String, M> loaded = new ConcurrentHashMap<>();
        private final KernelCache cache;
        private final Loader<M> loader;

        public Modules(KernelCache cache, Loader<M> loader) {
            this.cache = cache;
            this.loader = loader;
        }

        /** The module for a kernel file, compiling or reading it on first use. */
        public M get(String fileName) {
            return loaded.computeIfAbsent(fileName, f -> loader.load(cache.cubin(f, KernelSources.read(f), KernelSources.headers())));
        }

        public Map<String, M> all() { return loaded; }
    }
}
