package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.cpu.CpuBackend;
import dev.ballast.engine.backend.FusedCells;
import dev.ballast.engine.backend.FusedRecurrentLayers;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU's whole-layer recurrent kernels ({@link FusedRecurrentLayers}: weight packed once, batch rows split over
 * threads) against the step-by-step path they replace (one matmul and one {@link FusedCells} kernel per time step,
 * forward and backward), bit for bit, for any thread count, on fresh random operands of ragged shapes (batch not a
 * multiple of the row strip, hidden sizes not a multiple of the vector width, a transposed weight view). Hidden sizes
 * that are multiples of 16 (32, 64, 80, 128) take the F32 LSTM loops with the product fused with the cells
 * ({@code LstmForwardF32}/{@code LstmBackwardF32}) wherever the vector length divides them (AVX-512: 16, AVX2: 8), with
 * batches that are not multiples of their row tiles.
 */
class FusedRecurrentLayersTest {
    private static final int[][] SHAPES = {{1, 1, 3}, {5, 4, 16}, {13, 7, 20}, {64, 3, 37}, {7, 2, 129}, {13, 5, 32}, {6, 3, 64},
            {9, 4, 80}, {66, 3, 128}};

    private static Tensor randn(Random r, Device d, double scale, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextGaussian() * scale;
        return Tensor.fromArray(d, DType.F32, v, shape);
    }

    /** One case of a layer test: fresh operands from {@code r} on device {@code d}, shape (b, t, h), {@code at} for messages. */
    private interface Case {
        void check(Random r, Device d, FusedCells cells, FusedRecurrentLayers layers, int b, int t, int h, String at);
    }

    /** Runs {@code c} for 1, 2 and 3 threads over every shape, from one printed seed. */
    private static void forEveryCase(String kind, Case c) {
        long seed = System.nanoTime();
        System.out.println("FusedRecurrentLayersTest " + kind + " seed " + seed);
        Random r = new Random(seed);
        for (int threads : new int[]{1, 2, 3}) {
            Device d = new Device(new CpuBackend(threads));
            FusedCells cells = d.backend().fusedCells().orElseThrow();
            FusedRecurrentLayers layers = d.backend().fusedRecurrentLayers().orElseThrow();
            for (int[] shape : SHAPES)
                c.check(r, d, cells, layers, shape[0], shape[1], shape[2],
                        "seed " + seed + ", threads " + threads + ", B=" + shape[0] + " T=" + shape[1] + " H=" + shape[2]);
        }
    }

    private static void assertBits(Tensor expected, Tensor actual, String what) {
        float[] e = expected.contiguous().toFloatArray(), a = actual.contiguous().toFloatArray();
        assertEquals(e.length, a.length, what);
        for (int i = 0; i < e.length; i++)
            assertEquals(Float.floatToRawIntBits(e[i]), Float.floatToRawIntBits(a[i]), what + "[" + i + "]: " + e[i] + " vs " + a[i]);
    }

    @Test void lstmLayerEqualsTheStepByStepPathBitForBit() {
        forEveryCase("lstm", (r, d, cells, layers, b, t, h, at) -> {
            Tensor xw = randn(r, d, 1, b, t, 4 * h);
            Tensor w = h % 2 == 0 && h != 80 ? randn(r, d, 0.3, 4 * h, h) : randn(r, d, 0.3, h, 4 * h).mT(); // odd H, 80: a transposed view
            Tensor bias = h == 16 ? null : randn(r, d, 0.5, 4 * h);
            Tensor h0 = randn(r, d, 1, b, h), c0 = randn(r, d, 1, b, h), g = randn(r, d, 1, b, t, 2 * h);

            Tensor out = Tensor.empty(d, DType.F32, b, t, 2 * h), gates = Tensor.empty(d, DType.F32, b, t, 4 * h);
            layers.lstmForward(xw.view(), w.view(), bias == null ? null : bias.view(), h0.view(), c0.view(), gates.view(),
                    out.view(), Tensor.empty(d, DType.F32, b, 4 * h).view());
            Tensor dPre = Tensor.empty(d, DType.F32, b, t, 4 * h), dc0 = Tensor.empty(d, DType.F32, b, h);
            Tensor dh0 = Tensor.empty(d, DType.F32, b, h);
            layers.lstmBackward(w.view(), gates.view(), out.view(), h0.view(), c0.view(), g.view(), dPre.view(), dc0.view(),
                    dh0.view(), Tensor.empty(d, DType.F32, b, h).view());

            // the step-by-step path: one matmul and one cell kernel per step
            Tensor refOut = Tensor.empty(d, DType.F32, b, t, 2 * h), refGates = Tensor.empty(d, DType.F32, b, t, 4 * h);
            Tensor wT = w.mT().contiguous();
            for (long s = 0; s < t; s++) {
                Tensor prev = s == 0 ? null : refOut.select(1, s - 1);
                Tensor hPrev = prev == null ? h0 : prev.narrow(1, 0, h), cPrev = prev == null ? c0 : prev.narrow(1, h, h);
                Tensor o = refOut.select(1, s);
                cells.lstmCellForward(xw.select(1, s).view(), hPrev.matmul(wT).view(), bias == null ? null : bias.view(),
                        cPrev.view(), refGates.select(1, s).view(), o.narrow(1, 0, h).view(), o.narrow(1, h, h).view());
            }
            assertBits(refOut, out, "lstm out, " + at);
            assertBits(refGates, gates, "lstm gates, " + at);
            Tensor refPre = Tensor.empty(d, DType.F32, b, t, 4 * h), dc = Tensor.zeros(d, DType.F32, b, h);
            Tensor dhNext = null;
            for (long s = t - 1; s >= 0; s--) {
                Tensor o = refOut.select(1, s), gs = g.select(1, s), dp = refPre.select(1, s);
                Tensor cPrev = s == 0 ? c0 : refOut.select(1, s - 1).narrow(1, h, h);
                cells.lstmCellBackward(refGates.select(1, s).view(), cPrev.view(), o.narrow(1, h, h).view(),
                        gs.narrow(1, 0, h).view(), dhNext == null ? null : dhNext.view(), gs.narrow(1, h, h).view(), dc.view(),
                        dp.view());
                dhNext = dp.matmul(w);
            }
            assertBits(refPre, dPre, "lstm dPre, " + at);
            assertBits(dc, dc0, "lstm dc0, " + at);
            assertBits(dhNext, dh0, "lstm dh0, " + at);
        });
    }

    @Test void rnnLayerEqualsTheStepByStepPathBitForBit() {
        forEveryCase("rnn", (r, d, cells, layers, b, t, h, at) -> {
            Tensor xw = randn(r, d, 1, b, t, h);
            Tensor w = h % 2 == 0 ? randn(r, d, 0.3, h, h) : randn(r, d, 0.3, h, h).mT();
            Tensor bias = h == 16 ? null : randn(r, d, 0.5, h);
            Tensor h0 = randn(r, d, 1, b, h), g = randn(r, d, 1, b, t, h);

            Tensor out = Tensor.empty(d, DType.F32, b, t, h);
            layers.rnnForward(xw.view(), w.view(), bias == null ? null : bias.view(), h0.view(), out.view(),
                    Tensor.empty(d, DType.F32, b, h).view());
            Tensor dPre = Tensor.empty(d, DType.F32, b, t, h), dh0 = Tensor.empty(d, DType.F32, b, h);
            layers.rnnBackward(w.view(), out.view(), h0.view(), g.view(), dPre.view(), dh0.view(),
                    Tensor.empty(d, DType.F32, b, h).view());

            Tensor refOut = Tensor.empty(d, DType.F32, b, t, h);
            Tensor wT = w.mT().contiguous();
            for (long s = 0; s < t; s++) {
                Tensor hPrev = s == 0 ? h0 : refOut.select(1, s - 1);
                cells.rnnCellForward(xw.select(1, s).view(), hPrev.matmul(wT).view(), bias == null ? null : bias.view(),
                        refOut.select(1, s).view());
            }
            assertBits(refOut, out, "rnn out, " + at);
            Tensor refPre = Tensor.empty(d, DType.F32, b, t, h);
            Tensor dhNext = null;
            for (long s = t - 1; s >= 0; s--) {
                Tensor dp = refPre.select(1, s);
                cells.rnnCellBackward(refOut.select(1, s).view(), g.select(1, s).view(), dhNext == null ? null : dhNext.view(),
                        dp.view());
                dhNext = dp.matmul(w);
            }
            assertBits(refPre, dPre, "rnn dPre, " + at);
            assertBits(dhNext, dh0, "rnn dh0, " + at);
        });
    }
}
