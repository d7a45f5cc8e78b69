package dev.ballast.engine.dist;

import dev.ballast.engine.Tensor;
import java.util.List;

/** The one-process job: the collectives check their arguments and leave the tensors as they are. */
final class SingleProcess implements Communicator {
    static final SingleProcess INSTANCE = new SingleProcess();

    private SingleProcess() {}

    @Override public int rank() { return 0; }

    @Override public int size() { return 1; }

    @Override public String name() { return "single process"; }

    @Override public void allReduce(List<Tensor> tensors, Op op) {
        Communicator.checkTensors("allReduce", tensors);
    }

    @Override public void broadcast(List<Tensor> tensors, int root) {
        Communicator.checkTensors("broadcast", tensors);
        Communicator.checkRoot(root, 1);
    }

    @Override public void barrier() {}

    @Override public void close() {}

    @Override public String toString() { return name(); }
}
