package dev.ballast.cuda.nvrtc;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.ballast.cuda.CudaException;
import dev.ballast.cuda.CudaLibraries;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;

/**
 * NVRTC, the runtime CUDA C++ compiler, bound through {@code java.lang.foreign}: compiles a source
 * to a cubin for one GPU architecture. Status codes are turned into {@link CudaException}s named by
 * {@code nvrtcGetErrorString}; a compile error becomes a {@link CompileError} carrying NVRTC's log.
 */
public final class Nvrtc {
    /** A source failed to compile; the message holds the file name, options and NVRTC's log. */
    public static final class CompileError extends RuntimeException {
        private static final long serialVersionUID = 1L;
        public CompileError(String message) { super(message); }
    }

    private final MethodHandle nvrtcVersion, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetProgramLogSize,
            nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN, nvrtcDestroyProgram, nvrtcGetErrorString;
    private final String origin;

    /** Binds the functions from a loaded {@code libnvrtc.so.N}. */
    public Nvrtc(CudaLibraries.Loaded lib) {
        origin = lib.origin();
        // nvrtcResult nvrtcVersion(int *major, int *minor)
        nvrtcVersion = b(lib, "nvrtcVersion", ADDRESS, ADDRESS);
        // nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders,
        //     const char * const *headers, const char * const *includeNames)
        nvrtcCreateProgram = b(lib, "nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        // nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options)
        nvrtcCompileProgram = b(lib, "nvrtcCompileProgram", ADDRESS, JAVA_INT, ADDRESS);
        // nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet)
        nvrtcGetProgramLogSize = b(lib, "nvrtcGetProgramLogSize", ADDRESS, ADDRESS);
        // nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log)
        nvrtcGetProgramLog = b(lib, "nvrtcGetProgramLog", ADDRESS, ADDRESS);
        // nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet)
        nvrtcGetCUBINSize = b(lib, "nvrtcGetCUBINSize", ADDRESS, ADDRESS);
        // nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin)
        nvrtcGetCUBIN = b(lib, "nvrtcGetCUBIN", ADDRESS, ADDRESS);
        // nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog)
        nvrtcDestroyProgram = b(lib, "nvrtcDestroyProgram", ADDRESS);
        // const char *nvrtcGetErrorString(nvrtcResult result)
        nvrtcGetErrorString = CudaLibraries.bind(lib, "nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static MethodHandle b(CudaLibraries.Loaded lib, String name, java.lang.foreign.MemoryLayout... args) {
        return CudaLibraries.bind(lib, name, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Where the library was loaded from (a soname or a path). */
    public String origin() { return origin; }

    /** NVRTC's name for a status, e.g. {@code NVRTC_ERROR_COMPILATION}. */
    public String errorString(int status) {
        try {
            MemorySegment s = (MemorySegment) nvrtcGetErrorString.invokeExact(status);
            return s.equals(MemorySegment.NULL) ? "NVRTC_ERROR_" + status : s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "NVRTC_ERROR_" + status;
        }
    }

    private void check(int status, String call) {
        if (status != 0) throw new CudaException(call, status, errorString(status), null);
    }

    /** {major, minor}, e.g. {13, 0}. */
    public int[] version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ma = a.allocate(JAVA_INT), mi = a.allocate(JAVA_INT);
            check((int) nvrtcVersion.invokeExact(ma, mi), "nvrtcVersion");
            return new int[] {ma.get(JAVA_INT, 0), mi.get(JAVA_INT, 0)};
        } catch (RuntimeException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /**
     * Compiles {@code source} (named {@code fileName} in messages) with in-memory headers
     * (include name to text) and options such as {@code --gpu-architecture=sm_90}; returns the cubin.
     * Throws {@link CompileError} with NVRTC's log when the source does not compile.
     */
    public byte[] compileToCubin(String source, String fileName, Map<String, String> headers, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progPtr = a.allocate(ADDRESS);
            int nh = headers.size();
            MemorySegment hdrs = a.allocate(ADDRESS, Math.max(nh, 1)), names = a.allocate(ADDRESS, Math.max(nh, 1));
            int i = 0;
            for (var e : headers.entrySet()) {
                names.setAtIndex(ADDRESS, i, a.allocateFrom(e.getKey()));
                hdrs.setAtIndex(ADDRESS, i, a.allocateFrom(e.getValue()));
                i++;
            }
            // Locals, not conditional expressions: an argument of invokeExact(Object...) that is a conditional is a poly
            // expression typed Object, so the call site would no longer match the handle (WrongMethodTypeException).
            MemorySegment headerTexts = nh == 0 ? MemorySegment.NULL : hdrs;
            MemorySegment headerNames = nh == 0 ? MemorySegment.NULL : names;
            MemorySegment src = a.allocateFrom(source), name = a.allocateFrom(fileName);
            check((int) nvrtcCreateProgram.invokeExact(progPtr, src, name, nh, headerTexts, headerNames), "nvrtcCreateProgram");
            MemorySegment prog = progPtr.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(options.size(), 1));
                for (int j = 0; j < options.size(); j++) opts.setAtIndex(ADDRESS, j, a.allocateFrom(options.get(j)));
                int r = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), opts);
                if (r != 0) {
                    throw new CompileError("NVRTC (" + origin + ") could not compile " + fileName + ": " + errorString(r)
                            + "\noptions: " + String.join(" ", options) + "\n" + log(prog, a));
                }
                MemorySegment size = a.allocate(JAVA_LONG);
                check((int) nvrtcGetCUBINSize.invokeExact(prog, size), "nvrtcGetCUBINSize");
                MemorySegment cubin = a.allocate(size.get(JAVA_LONG, 0));
                check((int) nvrtcGetCUBIN.invokeExact(prog, cubin), "nvrtcGetCUBIN");
                return cubin.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            } finally {
                int ignored = (int) nvrtcDestroyProgram.invokeExact(progPtr);
            }
        } catch (RuntimeException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    private String log(MemorySegment prog, Arena a) throws Throwable {
        MemorySegment size = a.allocate(JAVA_LONG);
        check((int) nvrtcGetProgramLogSize.invokeExact(prog, size), "nvrtcGetProgramLogSize");
        long n = size.get(JAVA_LONG, 0);
        if (n <= 1) return "(empty log)";
        MemorySegment buf = a.allocate(n);
        check((int) nvrtcGetProgramLog.invokeExact(prog, buf), "nvrtcGetProgramLog");
        return buf.getString(0);
    }
}
