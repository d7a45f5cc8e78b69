package dev.ballast.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the native CUDA libraries: first by soname through the system loader, then in the usual
 * install folders and {@code LD_LIBRARY_PATH}, then in pip's NVIDIA wheels of the Python environments in sight
 * ({@link #pipLibraryDirs}). A library loaded by path gets the companions it needs from its own folder loaded
 * first (NVRTC's builtins, cuBLAS's cublasLt), since the loader would not look there for them. Libraries are loaded into the global arena and stay
 * loaded for the life of the JVM. Nothing here throws for a missing library: callers get an empty
 * result and say which names were tried.
 */
public final class CudaLibraries {
    private CudaLibraries() {}

    /** The CUDA driver library's soname. */
    public static final String LIBCUDA = "libcuda.so.1";

    /** Folders searched after the system loader, before {@code LD_LIBRARY_PATH}. */
    public static final List<String> COMMON_DIRS = List.of(
            "/usr/local/nvidia/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/cuda/lib64", "/usr/lib64", "/usr/lib/wsl/lib");

    /** A library that was loaded: its symbols and where it came from (a soname or a path). */
    public record Loaded(String name, String origin, SymbolLookup lookup) {}

    /** Loads {@code libcuda.so.1}, or returns empty when it is nowhere to be found. */
    public static Optional<Loaded> findLibcuda() {
        return find(LIBCUDA, List.of());
    }

    /**
     * NVRTC sonames to try for a driver of this CUDA version ({@code cuDriverGetVersion}, 13000 for
     * 13.0): newest first and never a major newer than the driver's, because a cubin from NVRTC 13
     * does not load on a CUDA 12 driver.
     */
    public static List<String> nvrtcCandidates(int driverVersion) {
        return candidates("libnvrtc.so.", driverVersion);
    }

    /** cuBLAS sonames to try for this driver version, newest supported major first. */
    public static List<String> cublasCandidates(int driverVersion) {
        return candidates("libcublas.so.", driverVersion);
    }

    private static List<String> candidates(String prefix, int driverVersion) {
        int major = driverVersion / 1000;
        List<String> out = new ArrayList<>();
        for (int m = 13; m >= 12; m--) if (m <= major) out.add(prefix + m);
        return out;
    }

    /** Loads the first of these sonames that can be found, or empty. */
    public static Optional<Loaded> findFirst(List<String> names) {
        for (String n : names) {
            Optional<Loaded> l = find(n, cudaToolkitDirs());
            if (l.isPresent()) return l;
        }
        return Optional.empty();
    }

    /**
     * Environment variable listing extra library folders (colon-separated), searched first for NVRTC and cuBLAS:
     * e.g. the pip wheels' {@code site-packages/nvidia/cu13/lib} or {@code nvidia/cuda_nvrtc/lib} beside PyTorch.
     */
    public static final String LIB_DIRS_ENV = "BALLAST_CUDA_LIB_DIRS";

    /** Library folders from {@value #LIB_DIRS_ENV}, then {@code CUDA_HOME}/{@code CUDA_PATH}, tried for NVRTC and cuBLAS. */
    static List<String> cudaToolkitDirs() {
        List<String> dirs = new ArrayList<>();
        String extra = System.getenv(LIB_DIRS_ENV);
        if (extra != null) for (String d : extra.split(":")) if (!d.isBlank()) dirs.add(d);
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) { dirs.add(v + "/lib64"); dirs.add(v + "/lib"); }
        }
        return dirs;
    }

    private static Optional<Loaded> find(String soname, List<String> extraDirs) {
        try {
            return Optional.of(new Loaded(soname, soname, SymbolLookup.libraryLookup(soname, Arena.global())));
        } catch (IllegalArgumentException notOnLoaderPath) {
            // fall through to explicit folders
        }
        Set<String> dirs = new LinkedHashSet<>(extraDirs);
        dirs.addAll(COMMON_DIRS);
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(d);
        for (Path d : pipLibraryDirs(System.getenv())) dirs.add(d.toString());
        for (String d : dirs) {
            Path p = Path.of(d, soname);
            if (!Files.isRegularFile(p)) continue;
            preloadCompanions(soname, p.getParent());
            try {
                return Optional.of(new Loaded(soname, p.toString(), SymbolLookup.libraryLookup(p, Arena.global())));
            } catch (IllegalArgumentException broken) {
                // a file that is not a loadable library (wrong arch, missing deps): keep looking
            }
        }
        return Optional.empty();
    }

    /**
     * Loads what {@code soname} needs from {@code dir} before it is loaded from there by path: NVRTC's builtins
     * ({@link #preloadNvrtcBuiltins}) and cuBLAS's {@code libcublasLt.so.N} (a dependency of {@code libcublas.so.N}
     * that the loader would look for only on its own path: NVIDIA's libraries carry no RUNPATH). Returns what was loaded.
     */
    static List<Path> preloadCompanions(String soname, Path dir) {
        if (soname.startsWith("libnvrtc.so")) return preloadNvrtcBuiltins(dir);
        if (soname.startsWith("libcublas.so.")) {
            Path lt = dir.resolve("libcublasLt.so." + soname.substring("libcublas.so.".length()));
            if (Files.isRegularFile(lt)) {
                try {
                    SymbolLookup.libraryLookup(lt, Arena.global());
                    return List.of(lt);
                } catch (IllegalArgumentException notLoadable) {
                    // cuBLAS's own load then says what is missing
                }
            }
        }
        return List.of();
    }

    /**
     * The {@code nvidia/<package>/lib} folders of pip's NVIDIA wheels (NVRTC, cuBLAS, NCCL: what PyTorch's CUDA builds
     * install) in the Python environments in sight: {@code VIRTUAL_ENV}, {@code CONDA_PREFIX}, the prefix of each
     * {@code python3} on {@code PATH} (a venv's {@code bin/python3} names the venv, activated or not), the
     * {@code PYTHONPATH} entries, the user's site folder and the system's. Searched after the toolkit's folders.
     */
    public static List<Path> pipLibraryDirs(Map<String, String> env) {
        LinkedHashSet<Path> prefixes = new LinkedHashSet<>();
        for (String v : new String[] {env.get("VIRTUAL_ENV"), env.get("CONDA_PREFIX")}) if (v != null && !v.isBlank()) prefixes.add(Path.of(v));
        String path = env.get("PATH");
        if (path != null)
            for (String d : path.split(":"))
                if (!d.isBlank() && Files.isRegularFile(Path.of(d, "python3")) && Path.of(d).toAbsolutePath().getParent() != null)
                    prefixes.add(Path.of(d).toAbsolutePath().getParent());
        String home = env.get("HOME");
        if (home != null && !home.isBlank()) prefixes.add(Path.of(home, ".local"));
        prefixes.add(Path.of("/usr/local"));
        prefixes.add(Path.of("/usr"));
        LinkedHashSet<Path> sites = new LinkedHashSet<>();
        String pp = env.get("PYTHONPATH");
        if (pp != null) for (String d : pp.split(":")) if (!d.isBlank()) sites.add(Path.of(d));
        for (Path prefix : prefixes)
            for (String lib : new String[] {"lib", "lib64"})
                for (Path py : list(prefix.resolve(lib), "python3*")) {
                    sites.add(py.resolve("site-packages"));
                    sites.add(py.resolve("dist-packages"));
                }
        List<Path> out = new ArrayList<>();
        for (Path site : sites)
            for (Path pkg : list(site.resolve("nvidia"), "*"))
                if (Files.isDirectory(pkg.resolve("lib"))) out.add(pkg.resolve("lib"));
        return out;
    }

    /** The entries of {@code dir} matching {@code glob}, sorted; none when it cannot be read. */
    private static List<Path> list(Path dir, String glob) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (var ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) out.add(p);
        } catch (java.io.IOException | RuntimeException unreadable) {
            // nothing there for us
        }
        out.sort(null);
        return out;
    }

    /**
     * NVRTC opens {@code libnvrtc-builtins.so.M.m} by soname when it compiles; loaded from a folder that is not on
     * the loader path, it would not find it there. Loading the builtins from the same folder first makes the
     * dynamic loader hand that copy to NVRTC's later lookup (an already loaded soname matches). Newest first;
     * a folder without builtins changes nothing (the compile then reports the missing library itself).
     */
    static List<Path> preloadNvrtcBuiltins(Path dir) {
        List<Path> loaded = new ArrayList<>();
        try (var files = Files.list(dir)) {
            List<Path> builtins = files.filter(f -> f.getFileName().toString().startsWith("libnvrtc-builtins.so"))
                    .sorted(java.util.Comparator.comparing((Path f) -> f.getFileName().toString()).reversed()).toList();
            for (Path b : builtins) {
                try {
                    SymbolLookup.libraryLookup(b, Arena.global());
                    loaded.add(b);
                    break;
                } catch (IllegalArgumentException notLoadable) {
                    // try the next (an older minor, or a broken link)
                }
            }
        } catch (java.io.IOException | RuntimeException unreadable) {
            // nothing to preload
        }
        return loaded;
    }

    /**
     * Binds one native function as a downcall handle. Throws {@link UnsatisfiedLinkError} naming the
     * symbol and library when the library lacks it (an older driver).
     */
    public static MethodHandle bind(Loaded lib, String symbol, FunctionDescriptor fd) {
        MethodHandle h = Linker.nativeLinker().downcallHandle(
                lib.lookup().find(symbol).orElseThrow(() -> new UnsatisfiedLinkError(
                        "symbol " + symbol + " not found in " + lib.origin())),
                fd);
        BOUND.put(symbol, fd);
        return h;
    }

    /** Like {@link #bind} but returns empty instead of failing when the symbol is absent. */
    public static Optional<MethodHandle> bindOptional(Loaded lib, String symbol, FunctionDescriptor fd) {
        Optional<MethodHandle> h = lib.lookup().find(symbol).map(s -> Linker.nativeLinker().downcallHandle(s, fd));
        h.ifPresent(x -> BOUND.put(symbol, fd));
        return h;
    }

    private static final Map<String, FunctionDescriptor> BOUND = new ConcurrentHashMap<>();

    /**
     * Every native function bound so far in this process, by exported symbol, with the descriptor it was bound
     * with: the one table the binding checks compare with the C prototypes and with each invokeExact call site.
     */
    public static Map<String, FunctionDescriptor> boundFunctions() { return Map.copyOf(BOUND); }

    /**
     * The file a loaded library came from, read from {@code /proc/self/maps} (libraries found by soname
     * do not say where they are); empty where that cannot be told.
     */
    public static Optional<Path> loadedPath(String namePrefix) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash < 0) continue;
                Path p = Path.of(line.substring(slash).trim());
                if (p.getFileName() != null && p.getFileName().toString().startsWith(namePrefix)) return Optional.of(p);
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux, or maps unreadable: the caller falls back to well-known folders
        }
        return Optional.empty();
    }
}
