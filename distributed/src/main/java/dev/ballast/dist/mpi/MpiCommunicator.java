package dev.ballast.dist.mpi;

import dev.ballast.dist.FlatBuffer;
import dev.ballast.dist.Watchdog;
import dev.ballast.engine.DType;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A {@link Communicator} over Open MPI's {@code MPI_COMM_WORLD}, for CPU tensors (any backend works: tensors are
 * packed into a host buffer per call with {@link FlatBuffer}). Every MPI call runs on one communication thread of its
 * own, the thread that initialized MPI ({@code MPI_THREAD_FUNNELED}), in the order the calls were made: a blocking
 * collective hands its call to that thread and waits, and {@link #allReduceAsync} packs on the caller's thread,
 * queues the all-reduce and returns, so the caller goes on (with backward, in data-parallel training) while the
 * reduction runs, as PyTorch's process groups do on their communication threads. Errors return instead of aborting
 * ({@code MPI_ERRORS_RETURN}) and surface as {@link MpiException}s naming the call; every collective runs under a
 * {@link Watchdog}, so a rank whose peer died stops within the watchdog's timeout instead of hanging. A shutdown
 * hook reports a rank ended by its launcher (mpirun stops every rank when one fails) mid-run. The public methods are
 * for one calling thread.
 */
public final class MpiCommunicator implements Communicator {
    /** Elements per MPI call: counts are C ints. */
    private static final long MAX_COUNT = 1L << 30;

    private final Mpi mpi;
    private final ExecutorService thread;
    private final MemorySegment comm;
    private final int rank, size;
    private final String name;
    private final boolean initializedHere;
    private final ArrayDeque<FlatBuffer> freeBuffers = new ArrayDeque<>(); // guarded by itself
    private final Watchdog watchdog;
    private final Thread exitReport;
    private volatile boolean closed;

    private MpiCommunicator(Mpi mpi, ExecutorService thread, boolean initializedHere) {
        this.mpi = mpi;
        this.thread = thread;
        this.comm = mpi.commWorld;
        this.initializedHere = initializedHere;
        int[] rs = onMpiThread("MPI_Comm_rank", () -> {
            mpi.returnErrors(comm);
            return new int[]{mpi.rank(comm), mpi.size(comm)};
        });
        this.rank = rs[0];
        this.size = rs[1];
        this.name = "mpi (" + onMpiThread("MPI_Get_library_version", mpi::version) + ")";
        String who = "rank " + rank + " of " + size;
        this.watchdog = Watchdog.standard(who);
        this.exitReport = new Thread(() -> {
            if (!closed) System.err.println("ballast: " + who + ": stopped before the run finished (when one rank fails, "
                    + "the launcher stops the others; look above for the rank that failed first)");
        }, "ballast-mpi-exit-report");
        Runtime.getRuntime().addShutdownHook(exitReport);
    }

    /**
     * Loads Open MPI, starts the communication thread, initializes MPI on it (unless already initialized in this
     * process, e.g. by a caller that then owns the thread rules) and joins MPI_COMM_WORLD.
     */
    public static MpiCommunicator open() {
        Mpi mpi = Mpi.load();
        ExecutorService thread = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("ballast-mpi").unstarted(r));
        try {
            boolean here = onThread(thread, "MPI_Init_thread", () -> {
                if (mpi.isInitialized()) return false;
                // A waiting rank yields its core instead of spinning: free when the machine is idle, and on a shared or
                // oversubscribed one it turned 30 ms all-reduces of 300 KB into 0.3-0.5 ms (2 ranks, 2 busy cores).
                Mpi.setenvDefault("OMPI_MCA_mpi_yield_when_idle", "1");
                mpi.init();
                return true;
            });
            return new MpiCommunicator(mpi, thread, here);
        } catch (RuntimeException e) {
            thread.shutdownNow();
            throw e;
        }
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
        allReduceAsync(tensors, op).join();
    }

    /**
     * Packs {@code tensors} on this thread into a host buffer of their own, queues {@code MPI_Allreduce} on the
     * communication thread and returns; {@link Pending#join()} waits for it and unpacks the result into the tensors.
     */
    @Override public Pending allReduceAsync(List<Tensor> tensors, Op op) {
        Communicator.checkTensors("allReduce", tensors);
        checkOpen("allReduce");
        MemorySegment mpiOp = switch (op) {
            case SUM -> mpi.opSum;
            case MAX -> mpi.opMax;
        };
        FlatBuffer buf = takeBuffer();
        List<FlatBuffer.Group> groups = buf.pack(tensors, true);
        InFlight work = new InFlight(buf, groups);
        work.future = submit(() -> {
            work.started = true;
            try (Watchdog.Guard g = watchdog.enter("MPI_Allreduce")) {
                for (FlatBuffer.Group gr : groups)
                    forChunks(buf.segment(gr), gr.count(), gr.type(), (chunk, n) -> mpi.allreduce(chunk, n, mpi.datatype(gr.type()), mpiOp, comm));
            }
            return null;
        });
        return work;
    }

    /** An all-reduce queued or running on the communication thread; joined on the caller's thread. */
    private final class InFlight implements Pending {
        final FlatBuffer buf;
        final List<FlatBuffer.Group> groups;
        volatile boolean started;
        Future<?> future;
        private boolean joined;

        InFlight(FlatBuffer buf, List<FlatBuffer.Group> groups) {
            this.buf = buf;
            this.groups = groups;
        }

        @Override public void join() {
            if (joined) return;
            joined = true;
            try {
                await(future, "MPI_Allreduce");
                buf.unpack(groups);
            } finally {
                giveBack(buf);
            }
        }

        @Override public boolean started() { return started; }

        @Override public boolean done() { return future.isDone(); }
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        Communicator.checkTensors("broadcast", tensors);
        Communicator.checkRoot(root, size);
        checkOpen("broadcast");
        boolean sender = rank == root;
        FlatBuffer buf = takeBuffer();
        try {
            List<FlatBuffer.Group> groups = buf.pack(tensors, sender);
            await(submit(() -> {
                try (Watchdog.Guard g = watchdog.enter("MPI_Bcast")) {
                    for (FlatBuffer.Group gr : groups)
                        forChunks(buf.segment(gr), gr.count(), gr.type(), (chunk, n) -> mpi.bcast(chunk, n, mpi.datatype(gr.type()), root, comm));
                }
                return null;
            }), "MPI_Bcast");
            if (!sender) buf.unpack(groups);
        } finally {
            giveBack(buf);
        }
    }

    @Override public void barrier() {
        checkOpen("barrier");
        onMpiThread("MPI_Barrier", () -> {
            try (Watchdog.Guard g = watchdog.enter("MPI_Barrier")) {
                mpi.barrier(comm);
            }
            return null;
        });
    }

    /**
     * MPI_Abort: the launcher ends every rank. Called on the caller's thread, not queued: the communication thread may
     * be blocked in a collective that will never finish.
     */
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

    private FlatBuffer takeBuffer() {
        synchronized (freeBuffers) {
            FlatBuffer b = freeBuffers.poll();
            return b != null ? b : new FlatBuffer();
        }
    }

    private void giveBack(FlatBuffer b) {
        synchronized (freeBuffers) {
            if (closed) b.close();
            else freeBuffers.push(b);
        }
    }

    private <T> Future<T> submit(Callable<T> call) {
        try {
            return thread.submit(call);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            CompletableFuture<T> failed = new CompletableFuture<>();
            failed.completeExceptionally(new IllegalStateException("the MPI communicator was already closed"));
            return failed;
        }
    }

    private <T> T onMpiThread(String call, Callable<T> body) { return onThread(thread, call, body); }

    private static <T> T onThread(ExecutorService thread, String call, Callable<T> body) {
        return await(thread.submit(body), call);
    }

    /** The result of a call on the communication thread; its exception rethrown here, with this thread's stack. */
    private static <T> T await(Future<T> f, String call) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the collective cannot be taken back: wait for it (the watchdog bounds the wait)
                }
            }
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof MpiException m) throw new MpiException(m.getMessage(), m);
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error err) throw err;
            throw new MpiException(call + " failed: " + c, c);
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private void checkOpen(String call) {
        if (closed) throw new IllegalStateException(call + ": the MPI communicator was already closed");
    }

    /** Finalizes MPI when this communicator initialized it (after a barrier, so no rank leaves while others work). */
    @Override public void close() {
        if (closed) return;
        try {
            onMpiThread("MPI_Finalize", () -> {
                try (Watchdog.Guard g = watchdog.enter("MPI_Barrier (close)")) {
                    mpi.barrier(comm);
                }
                if (initializedHere && !mpi.isFinalized()) mpi.finish();
                return null;
            });
        } finally {
            closed = true;
            thread.shutdown();
            watchdog.close();
            synchronized (freeBuffers) {
                freeBuffers.forEach(FlatBuffer::close);
                freeBuffers.clear();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(exitReport);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook will see closed == true and stay quiet
            }
        }
    }

    @Override public String toString() { return name + ", rank " + rank + " of " + size; }
}
