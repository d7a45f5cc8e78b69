package dev.ballast.engine.dist;

import dev.ballast.engine.Tensor;
import java.util.List;
import java.util.Objects;

/**
 * The processes ("ranks") of one data-parallel job and the collectives between them. Every rank must call the same
 * collectives in the same order with tensors of the same shapes and dtypes; the calls block until all ranks arrived.
 * All-reduce and broadcast work in place on a list of contiguous tensors, which an implementation packs into one flat
 * buffer per dtype so a whole gradient set costs one collective, not one per tensor. {@link #single()} is the
 * one-process job, where every collective is the identity.
 */
public interface Communicator extends AutoCloseable {

    /** Element-wise reductions an all-reduce can apply across ranks. */
    enum Op { SUM, MAX }

    /** This process's index in {@code [0, size)}. */
    int rank();

    /** Number of processes in the job. */
    int size();

    /** What carries the collectives, e.g. "single process", "mpi (Open MPI v4.1.4)". */
    String name();

    /** Replaces every tensor by the element-wise {@code op} of that tensor over all ranks. */
    void allReduce(List<Tensor> tensors, Op op);

    /**
     * Starts an all-reduce of {@code tensors} and returns at once (PyTorch's {@code all_reduce(..., async_op=True)}):
     * the tensors hold the result once {@link Pending#join()} returned, and must not be read or written before.
     * Collectives started this way run in the order they were started, before any collective called later, so
     * every rank must start them in the same order. The default runs the all-reduce before returning.
     */
    default Pending allReduceAsync(List<Tensor> tensors, Op op) {
        allReduce(tensors, op);
        return Pending.DONE;
    }

    /** A collective in flight. */
    @FunctionalInterface
    interface Pending {
        /** A collective that already finished. */
        Pending DONE = () -> {};

        /** Waits for the collective and writes its result into its tensors; a second call returns at once. */
        void join();

        /** True once the collective is running or has finished (not only queued behind others). */
        default boolean started() { return true; }

        /** True once the collective has finished ({@link #join()} may still have to unpack its result). */
        default boolean done() { return true; }
    }

    /** Replaces every tensor by rank {@code root}'s values. */
    void broadcast(List<Tensor> tensors, int root);

    /** Returns once every rank has called it. */
    void barrier();

    /** True on rank 0, the rank that prints and writes files. */
    default boolean isRoot() { return rank() == 0; }

    /**
     * Ends every rank of the job at once with {@code exitCode}, for an error on this rank that the others cannot see
     * (they would otherwise wait for it in their next collective). The single process has no others: returns.
     */
    default void abort(int exitCode) {}

    /** Leaves the job (after a barrier where the implementation needs one); no collective may follow. */
    @Override void close();

    /** The job of one process: rank 0 of 1, every collective returns its input unchanged. */
    static Communicator single() { return SingleProcess.INSTANCE; }

    /**
     * Checks the arguments every implementation takes: tensors open and contiguous (collectives write in place) and on
     * one device, and for broadcast a root in range.
     */
    static void checkTensors(String call, List<Tensor> tensors) {
        Objects.requireNonNull(tensors, call + ": tensors");
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = Objects.requireNonNull(tensors.get(i), call + ": tensor " + i + " is null");
            if (t.isClosed()) throw new IllegalArgumentException(call + ": tensor " + i + " was already closed");
            if (!t.isContiguous())
                throw new IllegalArgumentException(call + ": tensor " + i + " is not contiguous (collectives write in place)");
            if (!t.device().equals(tensors.getFirst().device()))
                throw new IllegalArgumentException(call + ": tensor " + i + " is on " + t.device() + ", tensor 0 on "
                        + tensors.getFirst().device() + "; all must be on one device");
        }
    }

    /** Checks a broadcast root against the job size. */
    static void checkRoot(int root, int size) {
        if (root < 0 || root >= size)
            throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of this job (0.." + (size - 1) + ")");
    }
}
