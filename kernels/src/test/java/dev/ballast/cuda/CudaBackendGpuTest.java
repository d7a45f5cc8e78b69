package dev.ballast.cuda;

import static dev.ballast.cuda.GpuBackends.assertClose;
import static dev.ballast.cuda.GpuBackends.download;
import static dev.ballast.cuda.GpuBackends.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.cuda.driver.CudaDriver;
import dev.ballast.engine.DType;
import dev.ballast.engine.backend.Gemm;
import dev.ballast.engine.backend.Storage;
import dev.ballast.engine.backend.Strided;
import dev.ballast.engine.backend.UnaryOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CUDA-only checks against float64 references computed here: matmul in every dtype and layout,
 * copies through both host paths, storage lifetime, events and graph capture. Tagged "gpu".
 */
@Tag("gpu")
class CudaBackendGpuTest {
    private final Random rnd = new Random(System.nanoTime());

    private double[] rand(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextDouble() * 2 - 1;
        return v;
    }

    /** The value a dtype actually stores for v (so references use the rounded inputs). */
    private static double rounded(DType t, double v) {
        return switch (t) {
            case F32 -> (float) v;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            case BF16 -> Float.intBitsToFloat(HalfBits.toBf16((float) v) << 16);
            default -> v;
        };
    }

    /** Element (b, r, c) of a matrix stored in v with offset and strides. */
    private static double at(double[] v, long off, long bs, long rs, long cs, int b, int r, int c) {
        return v[(int) (off + b * bs + r * rs + c * cs)];
    }

    private void checkGemm(DType t, boolean tf32, int batch, int m, int n, int k, String layoutA, String layoutB, boolean broadcastB) {
        CudaBackend cuda = GpuBackends.cuda();
        // storage big enough for any layout used below: [batch, max(m,k)*2, max(k,n)*2]
        int side = 2 * Math.max(m, Math.max(n, k));
        double[] av = rand(batch * side * side), bv = rand(batch * side * side);
        for (int i = 0; i < av.length; i++) { av[i] = rounded(t, av[i]); bv[i] = rounded(t, bv[i]); }
        long[] a = layout(layoutA, m, k, side), b = layout(layoutB, k, n, side);
        long aBs = (long) side * side, bBs = broadcastB ? 0 : (long) side * side;
        Storage as = upload(cuda, t, av), bs = upload(cuda, t, bv), cs = cuda.allocate((long) batch * m * n * t.byteSize());
        boolean old = CudaBackend.allowTf32();
        CudaBackend.setAllowTf32(tf32);
        try {
            cuda.fill(Strided.contiguous(cs, t, 0, batch, m, n), 777);
            cuda.matmul(new Gemm(batch, m, n, k, as, 1, aBs, a[0], a[1], bs, 2, bBs, b[0], b[1], cs, 0, (long) m * n, n, t));
            double[] got = download(Strided.contiguous(cs, t, 0, (long) batch * m * n));
            double[] want = new double[batch * m * n];
            double[] scale = new double[want.length];
            for (int bi = 0; bi < batch; bi++) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
                double s = 0, sa = 0;
                for (int p = 0; p < k; p++) {
                    double x = at(av, 1, aBs, a[0], a[1], bi, i, p) * at(bv, 2, bBs, b[0], b[1], bi, p, j);
                    s += x;
                    sa += Math.abs(x);
                }
                want[(bi * m + i) * n + j] = s;
                scale[(bi * m + i) * n + j] = sa;
            }
            double tol = switch (t) {
                case F64 -> 1e-13;
                case F32 -> tf32 ? 3e-3 : 1e-5;
                default -> 1e-2;
            };
            for (int i = 0; i < want.length; i++)
                assertEquals(want[i], got[i], tol * scale[i] + 1e-6,
                        "matmul " + t + (tf32 ? " tf32" : "") + " batch=" + batch + " " + m + "x" + n + "x" + k + " A " + layoutA + " B " + layoutB
                                + (broadcastB ? " B broadcast" : "") + " element " + i);
        } finally {
            CudaBackend.setAllowTf32(old);
            as.release();
            bs.release();
            cs.release();
        }
    }

    /** {rowStride, colStride} for a rows x cols matrix inside a side x side block. */
    private static long[] layout(String kind, int rows, int cols, int side) {
        return switch (kind) {
            case "row" -> new long[] {cols, 1};          // contiguous
            case "padded" -> new long[] {side, 1};       // row stride > cols
            case "transposed" -> new long[] {1, rows};   // a transposed contiguous matrix
            case "strided" -> new long[] {side, 2};      // not a transpose: copied first
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @Test
    void matmulEveryDtypeAndLayout() {
        String[] layouts = {"row", "padded", "transposed", "strided"};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.F16, DType.BF16})
            for (String la : layouts) for (String lb : layouts)
                checkGemm(t, false, 3, 17, 9, 33, la, lb, false);
        checkGemm(DType.F32, false, 4, 64, 48, 80, "row", "transposed", true);
        checkGemm(DType.F32, true, 2, 128, 96, 256, "row", "row", false);
        checkGemm(DType.F32, false, 1, 1, 7, 5, "row", "row", false);  // vector times matrix
        checkGemm(DType.F32, false, 1, 7, 1, 5, "row", "row", false);  // matrix times vector
        checkGemm(DType.BF16, false, 2, 256, 256, 512, "row", "transposed", false);
    }

    @Test
    void copiesFromHeapAndNativeSegmentsIncludingMoreThanTheStagingBuffer() {
        CudaBackend cuda = GpuBackends.cuda();
        int n = 5_000_000; // 20 MB of floats: more than the 8 MiB staging buffer
        float[] heap = new float[n];
        for (int i = 0; i < n; i++) heap[i] = rnd.nextFloat() - 0.5f;
        Storage s = cuda.allocate(4L * n);
        try (Arena a = Arena.ofConfined()) {
            cuda.copyFromHost(MemorySegment.ofArray(heap), s, 0, 4L * n);
            MemorySegment back = a.allocate(4L * n, 4);
            cuda.copyToHost(s, 0, back, 4L * n);
            float[] heapBack = new float[n];
            cuda.copyToHost(s, 0, MemorySegment.ofArray(heapBack), 4L * n);
            for (int i = 0; i < n; i += 997) {
                assertEquals(heap[i], back.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                assertEquals(heap[i], heapBack[i]);
            }
            assertEquals(heap[n - 1], heapBack[n - 1]);
        } finally {
            s.release();
        }
    }

    @Test
    void storageLifetimeAndAllocatorReuse() {
        CudaBackend cuda = GpuBackends.cuda();
        long before = cuda.allocatedBytes();
        Storage s = cuda.allocate(1000);
        assertEquals(before + 1000, cuda.allocatedBytes());
        s.retain();
        s.release();
        assertTrue(!s.isFreed());
        s.release();
        assertTrue(s.isFreed());
        assertEquals(before, cuda.allocatedBytes());
        long drivers = cuda.memoryStats().driverAllocations();
        Storage again = cuda.allocate(900);
        assertEquals(drivers, cuda.memoryStats().driverAllocations(), "a cached block was reused");
        again.release();
        assertTrue(cuda.facts().containsKey("compute capability"));
    }

    @Test
    void eventsAndGraphCaptureReplay() {
        CudaBackend cuda = GpuBackends.cuda();
        CudaDriver cu = cuda.driver();
        int n = 1 << 20;
        Storage x = cuda.allocate(4L * n), y = cuda.allocate(4L * n);
        Strided xv = Strided.contiguous(x, DType.F32, 0, n), yv = Strided.contiguous(y, DType.F32, 0, n);
        try {
            cuda.fill(xv, 0.5); // warm-up: modules are loaded before capture
            cuda.unary(UnaryOp.EXP, xv, yv);
            cuda.synchronize();
            MemorySegment e0 = cu.eventCreate(CudaDriver.EVENT_DEFAULT), e1 = cu.eventCreate(CudaDriver.EVENT_DEFAULT);
            cu.eventRecord(e0, cuda.stream());
            cuda.unary(UnaryOp.EXP, xv, yv);
            cu.eventRecord(e1, cuda.stream());
            cu.eventSynchronize(e1);
            assertTrue(cu.eventElapsedTime(e0, e1) >= 0);
            cu.eventDestroy(e0);
            cu.eventDestroy(e1);

            try (CudaGraph graph = CudaGraph.capture(cuda, () -> {
                cuda.fill(xv, 1.25);
                cuda.unary(UnaryOp.EXP, xv, yv);
            })) {
                assertEquals(2, graph.storagesUsed(), "x and y");
                cuda.fill(yv, -1);
                graph.replay();
                double[] got = download(Strided.contiguous(y, DType.F32, 0, 1000));
                double[] want = new double[1000];
                java.util.Arrays.fill(want, (float) Math.exp(1.25));
                assertClose(want, got, 2e-6, 0, "graph replay of fill + exp");
            }
        } finally {
            x.release();
            y.release();
        }
    }

    /**
     * What a graph cannot hold fails at capture with a message naming the remedy, and leaves the stream usable:
     * an allocation, a host copy, a synchronize, work from another thread; a matmul captures (cuBLAS has a
     * workspace); replaying after a used storage was released is refused.
     */
    @Test
    void graphCaptureGuards() throws Exception {
        CudaBackend cuda = GpuBackends.cuda();
        int n = 64;
        Storage a = upload(cuda, DType.F32, rand(n * n)), b = upload(cuda, DType.F32, rand(n * n)), c = cuda.allocate(4L * n * n);
        Gemm g = new Gemm(1, n, n, n, a, 0, 0, n, 1, b, 0, 0, n, 1, c, 0, 0, n, DType.F32);
        try {
            cuda.matmul(g); // warm-up: module and handle ready
            var alloc = assertThrows(IllegalStateException.class, () -> CudaGraph.capture(cuda, () -> cuda.allocate(1024).release()));
            assertTrue(alloc.getMessage().contains("allocate 1024 bytes") && alloc.getMessage().contains("before capturing"), alloc.getMessage());
            var host = assertThrows(IllegalStateException.class, () -> CudaGraph.capture(cuda, () -> download(Strided.contiguous(c, DType.F32, 0, 4))));
            assertTrue(host.getMessage().contains("to the host"), host.getMessage());
            var sync = assertThrows(IllegalStateException.class, () -> CudaGraph.capture(cuda, cuda::synchronize));
            assertTrue(sync.getMessage().contains("synchronize"), sync.getMessage());
            var other = assertThrows(IllegalStateException.class, () -> CudaGraph.capture(cuda, () -> {
                RuntimeException[] seen = new RuntimeException[1];
                Thread t = Thread.ofPlatform().start(() -> {
                    try { cuda.fill(Strided.contiguous(c, DType.F32, 0, 4), 1); } catch (RuntimeException e) { seen[0] = e; }
                });
                try { t.join(); } catch (InterruptedException e) { throw new IllegalStateException(e); }
                if (seen[0] != null) throw seen[0];
            }));
            assertTrue(other.getMessage().contains("captures a CUDA graph"), other.getMessage());

            // After the refusals the stream works and a matmul captures and replays.
            double[] before = download(Strided.contiguous(c, DType.F32, 0, n * n));
            cuda.fill(Strided.contiguous(c, DType.F32, 0, n * n), 0);
            try (CudaGraph graph = CudaGraph.capture(cuda, () -> cuda.matmul(g))) {
                graph.replay();
                assertArrayEquals(before, download(Strided.contiguous(c, DType.F32, 0, n * n)), "replayed matmul");
                b.release();
                var released = assertThrows(IllegalStateException.class, graph::replay);
                assertTrue(released.getMessage().contains("released after the capture"), released.getMessage());
                b = null;
            }
        } finally {
            a.release();
            if (b != null) b.release();
            c.release();
        }
    }
}
