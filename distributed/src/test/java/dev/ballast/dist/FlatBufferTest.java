package dev.ballast.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.dist.Communicator;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FlatBufferTest {
    @Test
    void packsEachDtypeIntoOneBufferRunsTheCollectiveOnceAndWritesBack() {
        long seed = System.nanoTime();
        System.out.println("FlatBufferTest seed " + seed);
        Device cpu = Device.cpu();
        Generator gen = new Generator(seed);
        try (Tensor a = Tensor.randn(gen, cpu, 3, 4); Tensor b = Tensor.randn(gen, cpu, 7);
             Tensor h = Tensor.randn(gen, cpu, 5).to(DType.BF16); Tensor d = Tensor.randn(gen, cpu, 2).to(DType.F64);
             Tensor base = Tensor.randn(gen, cpu, 4, 6); FlatBuffer buf = new FlatBuffer()) {
            Tensor row = base.narrow(0, 1, 2); // a contiguous view at an offset into its storage
            float[] a0 = a.toFloatArray(), b0 = b.toFloatArray(), h0 = h.toFloatArray(), row0 = row.toFloatArray(), base0 = base.toFloatArray();
            double[] d0 = d.toDoubleArray();
            List<String> calls = new ArrayList<>();
            buf.run(List.of(a, h, d, b, row), true, true, (seg, count, type) -> {
                calls.add(type + "x" + count);
                for (long i = 0; i < count; i++) {
                    if (type == DType.F32) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, 2 * seg.getAtIndex(ValueLayout.JAVA_FLOAT, i));
                    else seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, 2 * seg.getAtIndex(ValueLayout.JAVA_DOUBLE, i));
                }
            });
            assertEquals(List.of("F32x36", "F64x2"), calls, "one call per travelling dtype, halves travel as F32");
            assertArrayEquals(times2(a0), a.toFloatArray());
            assertArrayEquals(times2(b0), b.toFloatArray());
            assertArrayEquals(times2(h0), h.toFloatArray(), "doubling is exact in bf16");
            assertArrayEquals(times2(row0), row.toFloatArray());
            float[] after = base.toFloatArray();
            for (int i = 0; i < after.length; i++)
                assertEquals(i >= 6 && i < 18 ? 2 * base0[i] : base0[i], after[i], "only the view's rows change, index " + i);
            assertArrayEquals(new double[]{2 * d0[0], 2 * d0[1]}, d.toDoubleArray());
            assertTrue(buf.capacity() >= 36 * 4);
        }
    }

    private static float[] times2(float[] v) {
        float[] o = v.clone();
        for (int i = 0; i < o.length; i++) o[i] *= 2;
        return o;
    }

    @Test
    void singleProcessIsTheIdentityAndChecksItsArguments() {
        Communicator c = Communicator.single();
        assertEquals(0, c.rank());
        assertEquals(1, c.size());
        try (Tensor t = Tensor.fromArray(Device.cpu(), new float[]{1, 2, 3, 4}, 2, 2)) {
            c.allReduce(List.of(t), Communicator.Op.SUM);
            c.broadcast(List.of(t), 0);
            c.barrier();
            assertArrayEquals(new float[]{1, 2, 3, 4}, t.toFloatArray());
            var e = assertThrows(IllegalArgumentException.class, () -> c.allReduce(List.of(t.mT()), Communicator.Op.MAX));
            assertTrue(e.getMessage().contains("not contiguous"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> c.broadcast(List.of(t), 1));
            assertTrue(e.getMessage().contains("root 1 is not a rank of this job (0..0)"), e.getMessage());
        }
    }
}
