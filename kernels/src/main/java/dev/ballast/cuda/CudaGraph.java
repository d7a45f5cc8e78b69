package dev.ballast.cuda;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.engine.backend.Storage;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Work of a {@link CudaBackend} captured once as a CUDA graph and replayed with one launch, e.g. a whole
 * fused clip + optimizer step (the multi-tensor ops read their steering scalars from device memory, so a
 * step needs no host value). Capture runs the work on the backend's stream in thread-local capture mode and
 * refuses, with an error naming what to do, everything a graph cannot hold: an allocation (the graph would
 * replay into a block the allocator may hand to another tensor), a host copy or read-back, a synchronize,
 * and a fused op whose tensor list was never seen before (its chunk table would be uploaded inside the
 * capture): run the work once eagerly first. cuBLAS has its own workspace, so matmuls can be captured.
 *
 * <p>The graph remembers every storage its launches read or write. Replaying after one of them was
 * released fails with an error instead of writing into memory that now belongs to someone else; the
 * chunk tables it uses are kept alive by the graph itself until {@link #close()}.
 */
public final class CudaGraph implements AutoCloseable {

    /** What a capture in progress collects; one per backend at a time, on one thread. */
    static final class Capture {
        final Thread thread = Thread.currentThread();
        final Set<CudaStorage> used = Collections.newSetFromMap(new IdentityHashMap<>());
        final List<Storage> retained = new ArrayList<>();
    }

    private final CudaBackend backend;
    private final MemorySegment graph, exec;
    private final List<CudaStorage> used;
    private final List<Storage> retained;
    private boolean closed;

    private CudaGraph(CudaBackend backend, MemorySegment graph, MemorySegment exec, List<CudaStorage> used, List<Storage> retained) {
        this.backend = backend;
        this.graph = graph;
        this.exec = exec;
        this.used = used;
        this.retained = retained;
    }

    /**
     * Captures {@code work} (calls on {@code backend} from this thread) into a graph; nothing runs yet. On any
     * failure the capture is ended and discarded, so the stream stays usable, and the error propagates.
     */
    public static CudaGraph capture(CudaBackend backend, Runnable work) {
        CudaDriver cu = backend.driver();
        backend.synchronize(); // earlier work is not part of the graph
        Capture c = backend.beginCapture();
        MemorySegment g = null;
        try {
            cu.streamBeginCapture(backend.stream(), CudaDriver.CAPTURE_MODE_THREAD_LOCAL);
            try {
                work.run();
            } finally {
                g = cu.streamEndCapture(backend.stream()); // always end: a failed capture leaves the stream capturing
            }
            MemorySegment exec = cu.graphInstantiate(g, 0);
            return new CudaGraph(backend, g, exec, List.copyOf(c.used), List.copyOf(c.retained));
        } catch (RuntimeException | Error e) {
            if (g != null && !g.equals(MemorySegment.NULL)) {
                try { cu.graphDestroy(g); } catch (RuntimeException ignored) { e.addSuppressed(ignored); }
            }
            c.retained.forEach(Storage::release);
            throw e;
        } finally {
            backend.endCapture(c);
        }
    }

    /** Queues one replay on the backend's stream; fails when the graph is closed or its memory was released. */
    public void replay() {
        if (closed) throw new IllegalStateException("CUDA graph replayed after close()");
        for (CudaStorage s : used) {
            if (s.isFreed())
                throw new IllegalStateException("CUDA graph replay refused: it reads or writes " + s + ", released after the capture;"
                        + " keep every tensor the captured work used alive while the graph is replayed, or capture again");
        }
        backend.driver().graphLaunch(exec, backend.stream());
    }

    /** How many device storages the captured launches use. */
    public int storagesUsed() { return used.size(); }

    /** Destroys the graph and lets go of the chunk tables it kept; idempotent. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        backend.synchronize(); // a replay may still be running
        backend.driver().graphExecDestroy(exec);
        backend.driver().graphDestroy(graph);
        retained.forEach(Storage::release);
    }
}
