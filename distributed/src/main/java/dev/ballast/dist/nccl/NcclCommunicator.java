package dev.ballast.dist.nccl;

import dev.ballast.cuda.CudaBackend;
import dev.ballast.cuda.CudaStorage;
import dev.ballast.dist.Watchdog;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.dist.Communicator;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link Communicator} over NCCL for tensors on one CUDA device. The NCCL communicator is bootstrapped over another
 * communicator (normally MPI: rank 0's {@code ncclUniqueId} is broadcast as 16 longs), which also carries the
 * barrier. Each dtype group of a collective is packed into one flat device tensor (device-to-device copies on the
 * backend's stream), reduced in place by NCCL on that stream (F16 and BF16 natively, as PyTorch DDP does), and
 * copied back; the stream is then synchronized under a {@link Watchdog}, so a peer that died stops this rank within
 * the timeout instead of hanging. One GPU per rank: give each rank its own device with {@code CUDA_VISIBLE_DEVICES}
 * ({@code srun --gpus-per-task=1} does).
 */
public final class NcclCommunicator implements Communicator {
    private final Nccl nccl;
    private final Communicator bootstrap;
    private final CudaBackend backend;
    private final Device device;
    private final MemorySegment comm;
    private final Watchdog watchdog;
    private boolean closed;

    private NcclCommunicator(Nccl nccl, Communicator bootstrap, Device device) {
        this.nccl = nccl;
        this.bootstrap = bootstrap;
        this.device = device;
        this.backend = (CudaBackend) device.backend();
        byte[] id = new byte[Nccl.UNIQUE_ID_BYTES];
        try (Tensor idTensor = Tensor.zeros(Device.cpu(), DType.I64, Nccl.UNIQUE_ID_BYTES / 8)) {
            if (bootstrap.isRoot()) {
                byte[] fresh = nccl.uniqueId();
                try (Tensor t = Tensor.upload(Device.cpu(), MemorySegment.ofArray(fresh), DType.I64, DType.I64, Nccl.UNIQUE_ID_BYTES / 8)) {
                    idTensor.copyFrom(t);
                }
            }
            bootstrap.broadcast(List.of(idTensor), 0);
            idTensor.copyTo(MemorySegment.ofArray(id));
        }
        backend.bind();
        this.comm = nccl.initRank(bootstrap.size(), id, bootstrap.rank());
        this.watchdog = Watchdog.standard("rank " + bootstrap.rank() + " of " + bootstrap.size() + " (nccl)");
    }

    /**
     * NCCL over {@code device} (a CUDA device), bootstrapped over {@code bootstrap}; throws {@link NcclException}
     * naming what is missing when NCCL cannot be loaded. {@code bootstrap} stays owned by the caller.
     */
    public static NcclCommunicator create(Communicator bootstrap, Device device) {
        Objects.requireNonNull(bootstrap, "bootstrap communicator");
        if (!(device.backend() instanceof CudaBackend))
            throw new IllegalArgumentException("NCCL communicates CUDA tensors; device is " + device.name());
        Nccl nccl = Nccl.load().orElseThrow(() -> new NcclException("NCCL: cannot find " + Nccl.SONAME + " (tried the system "
                + "loader, CUDA folders, LD_LIBRARY_PATH and pip's nvidia/nccl/lib); install NCCL or set BALLAST_NCCL_LIBRARY"));
        return new NcclCommunicator(nccl, bootstrap, device);
    }

    @Override public int rank() { return bootstrap.rank(); }

    @Override public int size() { return bootstrap.size(); }

    @Override public String name() { return "nccl " + nccl.version() + " (" + nccl.origin + ")"; }

    @Override public void allReduce(List<Tensor> tensors, Op op) {
        allReduceAsync(tensors, op).join();
    }

    /**
     * Queues the packing, {@code ncclAllReduce} and unpacking on the backend's stream and returns; {@link Pending#join()}
     * waits for the stream under the watchdog. The host goes on queueing backward's kernels meanwhile; on the one
     * stream the device runs them after the reduction (NCCL on a stream of its own would overlap there too).
     */
    @Override public Pending allReduceAsync(List<Tensor> tensors, Op op) {
        Communicator.checkTensors("allReduce", tensors);
        int ncclOp = op == Op.SUM ? Nccl.SUM : Nccl.MAX;
        enqueue("ncclAllReduce", tensors, true, (ptr, count, type) -> nccl.allReduce(ptr, count, type, ncclOp, comm, backend.stream()));
        return new Pending() {
            private boolean joined;

            @Override public void join() {
                if (!joined) {
                    joined = true;
                    synchronize("ncclAllReduce");
                }
            }

            /** Queued on the stream, which runs it in order: started as far as the host can tell. */
            @Override public boolean started() { return true; }

            /** Known only once joined (a stream query per bucket would cost a driver call each). */
            @Override public boolean done() { return joined; }
        };
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        Communicator.checkTensors("broadcast", tensors);
        Communicator.checkRoot(root, size());
        run("ncclBroadcast", tensors, rank() == root, (ptr, count, type) -> nccl.broadcast(ptr, count, type, root, comm, backend.stream()));
    }

    @Override public void barrier() { bootstrap.barrier(); }

    private interface DeviceCollective {
        void run(long ptr, long count, int type);
    }

    /** Packs each dtype group into one flat device tensor, runs the collective on it, unpacks, then waits under the watchdog. */
    private void run(String call, List<Tensor> tensors, boolean pack, DeviceCollective collective) {
        enqueue(call, tensors, pack, collective);
        synchronize(call);
    }

    private void synchronize(String call) {
        try (Watchdog.Guard w = watchdog.enter(call)) {
            backend.bind();
            backend.synchronize();
        }
    }

    /** Queues on the stream: each dtype group packed into one flat device tensor, the collective on it, the unpacking. */
    private void enqueue(String call, List<Tensor> tensors, boolean pack, DeviceCollective collective) {
        checkOpen(call);
        Map<DType, List<Tensor>> groups = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            if (!t.device().equals(device))
                throw new IllegalArgumentException(call + ": NCCL communicates tensors on " + device + ", got one on " + t.device());
            groups.computeIfAbsent(t.dtype(), k -> new ArrayList<>()).add(t);
        }
        backend.bind();
        for (var g : groups.entrySet()) {
            long count = 0;
            for (Tensor t : g.getValue()) count += t.numel();
            if (count == 0) continue;
            boolean single = g.getValue().size() == 1;
            // one tensor is reduced where it lies; several are packed so the group costs one NCCL call
            try (Tensor flat = single ? g.getValue().getFirst().detach() : Tensor.empty(device, g.getKey(), count)) {
                if (!single && pack) {
                    long off = 0;
                    for (Tensor t : g.getValue()) {
                        flat.narrow(0, off, t.numel()).copyFrom(t.reshape(t.numel()));
                        off += t.numel();
                    }
                }
                Strided v = flat.view();
                long ptr = ((CudaStorage) v.storage()).ptr() + v.offset() * g.getKey().byteSize();
                collective.run(ptr, count, Nccl.datatype(g.getKey()));
                if (!single) {
                    long off = 0;
                    for (Tensor t : g.getValue()) {
                        t.copyFrom(flat.narrow(0, off, t.numel()).reshape(t.shape()));
                        off += t.numel();
                    }
                }
            }
        }
    }

    private void checkOpen(String call) {
        if (closed) throw new IllegalStateException(call + ": the NCCL communicator was already closed");
    }

    @Override public void abort(int exitCode) {
        if (!closed) {
            closed = true;
            nccl.destroy(comm, true);
        }
        bootstrap.abort(exitCode);
    }

    /** Destroys the NCCL communicator (the bootstrap communicator stays open: its owner closes it). */
    @Override public void close() {
        if (closed) return;
        closed = true;
        try {
            backend.synchronize();
            nccl.destroy(comm, false);
        } finally {
            watchdog.close();
        }
    }

    @Override public String toString() { return name() + ", rank " + rank() + " of " + size(); }
}
