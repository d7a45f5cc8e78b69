package dev.ballast.bench.jmh;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Tensors shared by the clipping JMH benchmarks on the CPU backend: the two layouts they compare,
 * {@value #SMALL} (10,000 tensors of 1,000 floats, 40 MB) and {@value #ONE_64MB} (one tensor of 16 Mi floats),
 * filled with random normal values (never constants). Owns what it allocates until {@link #close()}.
 */
final class Fixture implements AutoCloseable {
    static final String SMALL = "small_10k_x_1k";
    static final String ONE_64MB = "one_64MB";

    final Device device = Device.cpu();
    private final Generator gen = new Generator(42);
    private final List<Tensor> owned = new ArrayList<>();

    /** The shapes of a named layout; throws naming the allowed names. */
    static List<long[]> shapes(String name) {
        return switch (name) {
            case SMALL -> Collections.nCopies(10_000, new long[] {1000});
            case ONE_64MB -> List.of(new long[] {16L << 20});
            default -> throw new IllegalArgumentException("unknown layout '" + name + "'; allowed: " + SMALL + ", " + ONE_64MB);
        };
    }

    /** Total F32 bytes of a named layout. */
    static long bytes(String name) {
        long n = 0;
        for (long[] s : shapes(name)) n += s[0];
        return 4 * n;
    }

    /** The CPU backend's fused kernels. */
    MultiTensorOps fused() {
        return device.backend().multiTensorOps().orElseThrow(() -> new IllegalStateException(
                "backend '" + device.name() + "' has no fused multi-tensor ops"));
    }

    /** One random normal F32 tensor per shape, as the list of views the fused kernels take. */
    List<Strided> randn(List<long[]> shapes) {
        List<Strided> out = new ArrayList<>(shapes.size());
        for (long[] s : shapes) out.add(keep(Tensor.randn(gen, device, s)).view());
        return out;
    }

    /** One zero F32 tensor per shape. */
    List<Strided> zeros(List<long[]> shapes) {
        List<Strided> out = new ArrayList<>(shapes.size());
        for (long[] s : shapes) out.add(keep(Tensor.zeros(device, DType.F32, s)).view());
        return out;
    }

    /** A new uninitialized tensor's view, owned by this fixture. */
    Strided empty(DType dtype, long... shape) {
        return keep(Tensor.empty(device, dtype, shape)).view();
    }

    /** A zero tensor's view, owned by this fixture. */
    Strided zeros(DType dtype, long... shape) {
        return keep(Tensor.zeros(device, dtype, shape)).view();
    }

    private Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    @Override public void close() {
        for (Tensor t : owned) t.close();
        owned.clear();
    }
}
