package dev.ballast.dist.mpi;

import dev.ballast.dist.FlatBuffer;
import dev.ballast.dist.Watchdog;
import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A {@link Communicator} over Open MPI's {@code MPI_COMM_WORLD}, for CPU tensors (any backend works: tensors are
 * packed into one host buffer per dtype with {@link FlatBuffer}). Errors return instead of aborting
 * ({@code MPI_ERRORS_RETURN}) and surface as {@link MpiException}s naming the call; every collective runs under a
 * {@link Watchdog}, so a rank whose peer died stops within the watchdog's timeout instead of hanging. A shutdown
 * hook reports a rank ended by its launcher (mpirun stops every rank when one fails) mid-run. Not thread-safe:
 * one thread makes the calls (MPI is initialized at {@code MPI_THREAD_SINGLE}).
 */
public final class MpiCommunicator implements Communicator {
    /** Elements per MPI call: counts are C ints. */
    private static final long MAX_COUNT = 1L << 30;

    private final Mpi mpi;
    private final MemorySegment comm;
    private final int rank, size;
    private final String name;
    private final boolean initializedHere;
    private final FlatBuffer buffer = new FlatBuffer();
    private final Watchdog watchdog;
    private final Thread exitReport;
    private volatile boolean closed;

    private MpiCommunicator(Mpi mpi, boolean initializedHere) {
        this.mpi = mpi;
        this.comm = mpi.commWorld;
        this.initializedHere = initializedHere;
        mpi.returnErrors(comm);
        this.rank = mpi.rank(comm);
        this.size = mpi.size(comm);
        this.name = "mpi (" + mpi.version() + ")";
        String who = "rank " + rank + " of " + size;
        this.watchdog = Watchdog.standard(who);
        this.exitReport = new Thread(() -> {
            if (!closed) System.err.println("ballast: " + who + ": stopped before the run finished (when one rank fails, "
                    + "the launcher stops the others; look above for the rank that failed first)");
        }, "ballast-mpi-exit-report");
        Runtime.getRuntime().addShutdownHook(exitReport);
    }

    /** Loads Open MPI, initializes it (unless already initialized) and joins MPI_COMM_WORLD. */
    public static MpiCommunicator open() {
        Mpi mpi = Mpi.load();
        boolean here = false;
        if (!mpi.isInitialized()) {
            // A waiting rank yields its core instead of spinning: free when the machine is idle, and on a shared or
            // oversubscribed one it turned 30 ms all-reduces of 300 KB into 0.3-0.5 ms (2 ranks, 2 busy cores).
            Mpi.setenvDefault("OMPI_MCA_mpi_yield_when_idle", "1");
            mpi.init();
            here = true;
        }
        return new MpiCommunicator(mpi, here);
    }

    /** "Open MPI v4.1.4 (libmpi.so.40)" when the library loads (nothing is initialized), else why not. */
    public static String availability() {
        try {
            Mpi mpi = Mpi.load();
            return "available: " + mpi.version() + " (" + mpi.library + ")";
        } catch (MpiException e) {
            return "unavailable (" + e.getMessage() + ")";
        }
    }

    @Override public int rank() { return rank; }

    @Override public int size() { return size; }

    @Override public String name() { return name; }

    /** How long a collective may wait for its peers before this rank stops. */
    public java.time.Duration timeout() { return watchdog.timeout(); }

    @Override public void allReduce(List<Tensor> tensors, Op op) {
        Communicator.checkTensors("allReduce", tensors);
        checkOpen("allReduce");
        MemorySegment mpiOp = switch (op) {
            case SUM -> mpi.opSum;
            case MAX -> mpi.opMax;
        };
        buffer.run(tensors, true, true, (buf, count, type) -> {
            try (Watchdog.Guard g = watchdog.enter("MPI_Allreduce")) {
                forChunks(buf, count, type, (chunk, n) -> mpi.allreduce(chunk, n, mpi.datatype(type), mpiOp, comm));
            }
        });
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        Communicator.checkTensors("broadcast", tensors);
        Communicator.checkRoot(root, size);
        checkOpen("broadcast");
        boolean sender = rank == root;
        buffer.run(tensors, sender, !sender, (buf, count, type) -> {
            try (Watchdog.Guard g = watchdog.enter("MPI_Bcast")) {
                forChunks(buf, count, type, (chunk, n) -> mpi.bcast(chunk, n, mpi.datatype(type), root, comm));
            }
        });
    }

    @Override public void barrier() {
        checkOpen("barrier");
        try (Watchdog.Guard g = watchdog.enter("MPI_Barrier")) {
            mpi.barrier(comm);
        }
    }

    /** MPI_Abort: the launcher ends every rank. */
    @Override public void abort(int code) {
        closed = true;
        mpi.abort(comm, code);
    }

    private interface ChunkCall {
        void run(MemorySegment chunk, int count);
    }

    private static void forChunks(MemorySegment buf, long count, DType type, ChunkCall call) {
        for (long done = 0; done < count; done += MAX_COUNT) {
            long n = Math.min(MAX_COUNT, count - done);
            call.run(buf.asSlice(done * type.byteSize(), n * type.byteSize()), (int) n);
        }
    }

    private void checkOpen(String call) {
        if (closed) throw new IllegalStateException(call + ": the MPI communicator was already closed");
    }

    /** Finalizes MPI when this communicator initialized it (after a barrier, so no rank leaves while others work). */
    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            try (Watchdog.Guard g = watchdog.enter("MPI_Barrier (close)")) {
                mpi.barrier(comm);
            }
            if (initializedHere && !mpi.isFinalized()) mpi.finish();
        } finally {
            watchdog.close();
            buffer.close();
            try {
                Runtime.getRuntime().removeShutdownHook(exitReport);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook will see closed == true and stay quiet
            }
        }
    }

    @Override public String toString() { return name + ", rank " + rank + " of " + size; }
}
