package dev.ballast.dist.mpi;

import dev.ballast.engine.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

/**
 * The part of Open MPI's C API that Ballast calls, bound through FFM. Open MPI's predefined handles
 * ({@code MPI_COMM_WORLD}, {@code MPI_FLOAT}, {@code MPI_SUM}, ...) are the addresses of exported globals
 * ({@code ompi_mpi_comm_world}, ...), so they are looked up as symbols. The library is opened with
 * {@code RTLD_GLOBAL} first: Open MPI's plugins resolve symbols of libmpi at load time. Every call that returns an
 * error code goes through {@link #check}, which throws {@link MpiException} naming the call and MPI's message
 * (the communicator's error handler is set to {@code MPI_ERRORS_RETURN}, so errors come back instead of aborting).
 */
@SuppressWarnings("restricted")
final class Mpi {
    /** Open MPI 4.x and 5.x (libmpi.so.40); another path in {@code BALLAST_MPI_LIBRARY}. */
    static final String DEFAULT_LIBRARY = "libmpi.so.40";
    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    private static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1); // Open MPI's MPI_IN_PLACE is (void *) 1

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final java.lang.foreign.AddressLayout ADDR = ValueLayout.ADDRESS;

    final String library;
    final MemorySegment commWorld, errorsReturn, opSum, opMax, typeFloat, typeDouble, typeInt32, typeInt64;
    /** MPI_THREAD_FUNNELED (mpi.h): only the thread that initialized MPI calls it, as Ballast's communication thread does. */
    static final int THREAD_FUNNELED = 1;
    private final MethodHandle initialized, finalized, initThread, finalizeMpi, commRank, commSize, allreduce, bcast, barrier,
            setErrhandler, errorString, abort, libraryVersion;

    private Mpi(String library, SymbolLookup lib) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        commWorld = symbol(lib, "ompi_mpi_comm_world");
        errorsReturn = symbol(lib, "ompi_mpi_errors_return");
        opSum = symbol(lib, "ompi_mpi_op_sum");
        opMax = symbol(lib, "ompi_mpi_op_max");
        typeFloat = symbol(lib, "ompi_mpi_float");
        typeDouble = symbol(lib, "ompi_mpi_double");
        typeInt32 = symbol(lib, "ompi_mpi_int32_t");
        typeInt64 = symbol(lib, "ompi_mpi_int64_t");
        initialized = fn(linker, lib, "MPI_Initialized", FunctionDescriptor.of(INT, ADDR));
        finalized = fn(linker, lib, "MPI_Finalized", FunctionDescriptor.of(INT, ADDR));
        initThread = fn(linker, lib, "MPI_Init_thread", FunctionDescriptor.of(INT, ADDR, ADDR, INT, ADDR));
        finalizeMpi = fn(linker, lib, "MPI_Finalize", FunctionDescriptor.of(INT));
        commRank = fn(linker, lib, "MPI_Comm_rank", FunctionDescriptor.of(INT, ADDR, ADDR));
        commSize = fn(linker, lib, "MPI_Comm_size", FunctionDescriptor.of(INT, ADDR, ADDR));
        allreduce = fn(linker, lib, "MPI_Allreduce", FunctionDescriptor.of(INT, ADDR, ADDR, INT, ADDR, ADDR, ADDR));
        bcast = fn(linker, lib, "MPI_Bcast", FunctionDescriptor.of(INT, ADDR, INT, ADDR, INT, ADDR));
        barrier = fn(linker, lib, "MPI_Barrier", FunctionDescriptor.of(INT, ADDR));
        setErrhandler = fn(linker, lib, "MPI_Comm_set_errhandler", FunctionDescriptor.of(INT, ADDR, ADDR));
        errorString = fn(linker, lib, "MPI_Error_string", FunctionDescriptor.of(INT, INT, ADDR, ADDR));
        abort = fn(linker, lib, "MPI_Abort", FunctionDescriptor.of(INT, ADDR, INT));
        libraryVersion = fn(linker, lib, "MPI_Get_library_version", FunctionDescriptor.of(INT, ADDR, ADDR));
    }

    /** Opens the library ({@code BALLAST_MPI_LIBRARY} or libmpi.so.40); throws {@link MpiException} saying what to install. */
    static Mpi load() {
        String env = System.getenv("BALLAST_MPI_LIBRARY");
        String library = env == null || env.isBlank() ? DEFAULT_LIBRARY : env;
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        try (Arena a = Arena.ofConfined()) {
            MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
                    FunctionDescriptor.of(ADDR, ADDR, INT));
            MethodHandle dlerror = linker.downcallHandle(libc.find("dlerror").orElseThrow(), FunctionDescriptor.of(ADDR));
            MemorySegment h = (MemorySegment) dlopen.invokeExact(a.allocateFrom(library), RTLD_NOW | RTLD_GLOBAL);
            if (h.address() == 0) {
                MemorySegment msg = (MemorySegment) dlerror.invokeExact();
                String why = msg.address() == 0 ? "unknown reason" : msg.reinterpret(4096).getString(0);
                throw new MpiException("MPI: cannot load " + library + " (" + why + "). Install Open MPI 4 or 5 (Debian/Ubuntu: "
                        + "apt-get install openmpi-bin libopenmpi-dev) or set BALLAST_MPI_LIBRARY to libmpi's path");
            }
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI: dlopen(" + library + ") failed: " + t, t);
        }
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        return new Mpi(library, lib);
    }

    private MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new MpiException("MPI: " + library + " has no symbol " + name
                + "; Ballast binds Open MPI's ABI (MPICH and Intel MPI name their handles differently)"));
    }

    private MethodHandle fn(Linker linker, SymbolLookup lib, String name, FunctionDescriptor d) {
        return linker.downcallHandle(symbol(lib, name), d);
    }

    /** The MPI datatype of a buffer of {@code t} (F16/BF16 travel as F32). */
    MemorySegment datatype(DType t) {
        return switch (t) {
            case F32 -> typeFloat;
            case F64 -> typeDouble;
            case I32 -> typeInt32;
            case I64 -> typeInt64;
            case F16, BF16 -> throw new IllegalArgumentException("MPI: half types are reduced as F32, got " + t);
        };
    }

    boolean isInitialized() { return flag(initialized, "MPI_Initialized"); }

    boolean isFinalized() { return flag(finalized, "MPI_Finalized"); }

    /**
     * Sets an environment variable of this process unless it is set (C {@code setenv} with overwrite 0): how MCA
     * parameters reach Open MPI before {@code MPI_Init}, which reads them from the environment.
     */
    static void setenvDefault(String name, String value) {
        Linker linker = Linker.nativeLinker();
        try (Arena a = Arena.ofConfined()) {
            MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                    FunctionDescriptor.of(INT, ADDR, ADDR, INT));
            int ignored = (int) setenv.invokeExact(a.allocateFrom(name), a.allocateFrom(value), 0);
        } catch (Throwable t) {
            throw new MpiException("setenv(" + name + ") failed: " + t, t);
        }
    }

    /**
     * MPI_Init_thread at {@link #THREAD_FUNNELED}, on the thread that will make every later call; returns the level
     * the library provides.
     */
    int init() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment provided = a.allocate(INT);
            check((int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, THREAD_FUNNELED, provided), "MPI_Init_thread");
            return provided.get(INT, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Init_thread failed: " + t, t);
        }
    }

    void finish() {
        try {
            check((int) finalizeMpi.invokeExact(), "MPI_Finalize");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Finalize failed: " + t, t);
        }
    }

    void returnErrors(MemorySegment comm) {
        try {
            check((int) setErrhandler.invokeExact(comm, errorsReturn), "MPI_Comm_set_errhandler");
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Comm_set_errhandler failed: " + t, t);
        }
    }

    int rank(MemorySegment comm) { return intOut(commRank, comm, "MPI_Comm_rank"); }

    int size(MemorySegment comm) { return intOut(commSize, comm, "MPI_Comm_size"); }

    /** In-place all-reduce of {@code count} elements of {@code type} at {@code buf}. */
    void allreduce(MemorySegment buf, int count, MemorySegment type, MemorySegment op, MemorySegment comm) {
        int rc;
        try {
            rc = (int) allreduce.invokeExact(IN_PLACE, buf, count, type, op, comm);
        } catch (Throwable t) {
            throw new MpiException("MPI_Allreduce failed: " + t, t);
        }
        check(rc, "MPI_Allreduce");
    }

    void bcast(MemorySegment buf, int count, MemorySegment type, int root, MemorySegment comm) {
        int rc;
        try {
            rc = (int) bcast.invokeExact(buf, count, type, root, comm);
        } catch (Throwable t) {
            throw new MpiException("MPI_Bcast failed: " + t, t);
        }
        check(rc, "MPI_Bcast");
    }

    void barrier(MemorySegment comm) {
        int rc;
        try {
            rc = (int) barrier.invokeExact(comm);
        } catch (Throwable t) {
            throw new MpiException("MPI_Barrier failed: " + t, t);
        }
        check(rc, "MPI_Barrier");
    }

    /** MPI_Abort: ends every rank of the job (the launcher kills them). */
    void abort(MemorySegment comm, int code) {
        try {
            int ignored = (int) abort.invokeExact(comm, code);
        } catch (Throwable t) {
            throw new MpiException("MPI_Abort failed: " + t, t);
        }
    }

    /** e.g. "Open MPI v4.1.4, package: Debian OpenMPI, ..." (first line only). */
    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(8192);
            MemorySegment len = a.allocate(INT);
            check((int) libraryVersion.invokeExact(buf, len), "MPI_Get_library_version");
            String v = buf.getString(0, StandardCharsets.UTF_8).strip();
            int comma = v.indexOf(',');
            return comma > 0 ? v.substring(0, comma) : v;
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException("MPI_Get_library_version failed: " + t, t);
        }
    }

    /** Throws {@link MpiException} naming {@code call} and MPI's message when {@code rc} is not MPI_SUCCESS (0). */
    void check(int rc, String call) {
        if (rc == 0) return;
        throw new MpiException(call + " failed in " + library + " with error " + rc + ": " + message(rc));
    }

    private String message(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1024);
            MemorySegment len = a.allocate(INT);
            int r = (int) errorString.invokeExact(rc, buf, len);
            return r == 0 ? buf.getString(0, StandardCharsets.UTF_8) : "(no message)";
        } catch (Throwable t) {
            return "(no message: " + t + ")";
        }
    }

    private boolean flag(MethodHandle h, String call) {
        return intOut(h, null, call) != 0;
    }

    private int intOut(MethodHandle h, MemorySegment comm, String call) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(INT);
            int rc = comm == null ? (int) h.invokeExact(out) : (int) h.invokeExact(comm, out);
            check(rc, call);
            return out.get(INT, 0);
        } catch (MpiException e) {
            throw e;
        } catch (Throwable t) {
            throw new MpiException(call + " failed: " + t, t);
        }
    }
}
