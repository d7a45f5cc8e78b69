package dev.ballast.dist.nccl;

import dev.ballast.cuda.CudaLibraries;
import dev.ballast.engine.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The part of NCCL's C API that Ballast calls, bound through FFM. The library is {@code BALLAST_NCCL_LIBRARY}
 * when set, else {@code libnccl.so.2} from the system loader, the CUDA folders, {@code LD_LIBRARY_PATH}, or the
 * {@code nvidia/nccl/lib} folder of a pip install (PyTorch's wheels bring it). Every call's result goes through
 * {@link #check}, which throws {@link NcclException} naming the call, the library and NCCL's message.
 */
@SuppressWarnings("restricted")
public final class Nccl {
    public static final String SONAME = "libnccl.so.2";
    /** ncclUniqueId: 128 opaque bytes, passed by value to ncclCommInitRank. */
    static final int UNIQUE_ID_BYTES = 128;
    static final StructLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(UNIQUE_ID_BYTES, ValueLayout.JAVA_BYTE));
    // ncclRedOp_t and ncclDataType_t values (nccl.h, stable since NCCL 2.0; bf16 since 2.10)
    static final int SUM = 0, MAX = 2;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final java.lang.foreign.AddressLayout ADDR = ValueLayout.ADDRESS;
    private static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;

    final String origin;
    private final MethodHandle getUniqueId, commInitRank, allReduce, broadcast, commDestroy, commAbort, getErrorString, getVersion;

    private Nccl(CudaLibraries.Loaded lib) {
        this.origin = lib.origin();
        getUniqueId = CudaLibraries.bind(lib, "ncclGetUniqueId", FunctionDescriptor.of(INT, ADDR));
        commInitRank = CudaLibraries.bind(lib, "ncclCommInitRank", FunctionDescriptor.of(INT, ADDR, INT, UNIQUE_ID, INT));
        allReduce = CudaLibraries.bind(lib, "ncclAllReduce", FunctionDescriptor.of(INT, ADDR, ADDR, SIZE_T, INT, INT, ADDR, ADDR));
        broadcast = CudaLibraries.bind(lib, "ncclBroadcast", FunctionDescriptor.of(INT, ADDR, ADDR, SIZE_T, INT, INT, ADDR, ADDR));
        commDestroy = CudaLibraries.bind(lib, "ncclCommDestroy", FunctionDescriptor.of(INT, ADDR));
        commAbort = CudaLibraries.bind(lib, "ncclCommAbort", FunctionDescriptor.of(INT, ADDR));
        getErrorString = CudaLibraries.bind(lib, "ncclGetErrorString", FunctionDescriptor.of(ADDR, INT));
        getVersion = CudaLibraries.bind(lib, "ncclGetVersion", FunctionDescriptor.of(INT, ADDR));
    }

    /** NCCL when it can be found, else empty (callers fall back to MPI through host memory and say why). */
    public static Optional<Nccl> load() {
        String env = System.getenv("BALLAST_NCCL_LIBRARY");
        List<String> names = env != null && !env.isBlank() ? List.of(env) : List.of(SONAME);
        Optional<CudaLibraries.Loaded> lib = CudaLibraries.findFirst(names);
        if (lib.isEmpty() && names.getFirst().equals(SONAME)) lib = fromPip();
        return lib.map(Nccl::new);
    }

    /** libnccl.so.2 from a pip install's nvidia/nccl/lib (PyTorch's CUDA wheels), searched in the usual site folders. */
    private static Optional<CudaLibraries.Loaded> fromPip() {
        List<Path> roots = new ArrayList<>();
        String pp = System.getenv("PYTHONPATH");
        if (pp != null) for (String d : pp.split(":")) if (!d.isBlank()) roots.add(Path.of(d));
        for (String base : List.of("/usr/local/lib", "/usr/lib", System.getProperty("user.home") + "/.local/lib")) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of(base), "python3*")) {
                for (Path py : ds) {
                    roots.add(py.resolve("site-packages"));
                    roots.add(py.resolve("dist-packages"));
                }
            } catch (IOException | RuntimeException ignored) {
                // folder absent
            }
        }
        for (Path r : roots) {
            Path so = r.resolve("nvidia/nccl/lib").resolve(SONAME);
            if (!Files.isRegularFile(so)) continue;
            Optional<CudaLibraries.Loaded> l = CudaLibraries.findFirst(List.of(so.toString()));
            if (l.isPresent()) return l;
        }
        return Optional.empty();
    }

    /** "2.21.5" from ncclGetVersion (e.g. 22105). */
    public String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(INT);
            check((int) getVersion.invokeExact(v), "ncclGetVersion");
            int n = v.get(INT, 0);
            return n >= 10000 ? (n / 10000) + "." + (n / 100 % 100) + "." + (n % 100) : (n / 1000) + "." + (n / 100 % 10) + "." + (n % 100);
        } catch (NcclException e) {
            throw e;
        } catch (Throwable t) {
            throw new NcclException("ncclGetVersion failed: " + t, t);
        }
    }

    /** The NCCL data type of a buffer of {@code t}. */
    static int datatype(DType t) {
        return switch (t) {
            case I32 -> 2;
            case I64 -> 4;
            case F16 -> 6;
            case F32 -> 7;
            case F64 -> 8;
            case BF16 -> 9;
        };
    }

    /** A new ncclUniqueId (on the rank that bootstraps), as 128 bytes. */
    byte[] uniqueId() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(UNIQUE_ID);
            check((int) getUniqueId.invokeExact(id), "ncclGetUniqueId");
            return id.toArray(ValueLayout.JAVA_BYTE);
        } catch (NcclException e) {
            throw e;
        } catch (Throwable t) {
            throw new NcclException("ncclGetUniqueId failed: " + t, t);
        }
    }

    /** ncclCommInitRank: joins the communicator named by {@code id}; blocks until all ranks joined. */
    MemorySegment initRank(int size, byte[] id, int rank) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDR);
            MemorySegment idSeg = a.allocate(UNIQUE_ID);
            idSeg.copyFrom(MemorySegment.ofArray(id));
            check((int) commInitRank.invokeExact(out, size, idSeg, rank), "ncclCommInitRank");
            return out.get(ADDR, 0);
        } catch (NcclException e) {
            throw e;
        } catch (Throwable t) {
            throw new NcclException("ncclCommInitRank failed: " + t, t);
        }
    }

    void allReduce(long ptr, long count, int type, int op, MemorySegment comm, MemorySegment stream) {
        int rc;
        try {
            MemorySegment buf = MemorySegment.ofAddress(ptr);
            rc = (int) allReduce.invokeExact(buf, buf, count, type, op, comm, stream);
        } catch (Throwable t) {
            throw new NcclException("ncclAllReduce failed: " + t, t);
        }
        check(rc, "ncclAllReduce");
    }

    void broadcast(long ptr, long count, int type, int root, MemorySegment comm, MemorySegment stream) {
        int rc;
        try {
            MemorySegment buf = MemorySegment.ofAddress(ptr);
            rc = (int) broadcast.invokeExact(buf, buf, count, type, root, comm, stream);
        } catch (Throwable t) {
            throw new NcclException("ncclBroadcast failed: " + t, t);
        }
        check(rc, "ncclBroadcast");
    }

    void destroy(MemorySegment comm, boolean abort) {
        int rc;
        try {
            rc = abort ? (int) commAbort.invokeExact(comm) : (int) commDestroy.invokeExact(comm);
        } catch (Throwable t) {
            throw new NcclException((abort ? "ncclCommAbort" : "ncclCommDestroy") + " failed: " + t, t);
        }
        check(rc, abort ? "ncclCommAbort" : "ncclCommDestroy");
    }

    /** Throws {@link NcclException} naming the call, the library and NCCL's message unless {@code rc} is ncclSuccess. */
    void check(int rc, String call) {
        if (rc == 0) return;
        String msg;
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(rc);
            msg = s.address() == 0 ? "(no message)" : s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            msg = "(no message: " + t + ")";
        }
        throw new NcclException(call + " failed in " + origin + " with ncclResult " + rc + ": " + msg);
    }
}
