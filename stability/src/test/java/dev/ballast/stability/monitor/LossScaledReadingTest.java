package dev.ballast.stability.monitor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.GradStatsLayout;
import dev.ballast.stability.scale.UnderflowWatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Readings of gradients that carry a loss scale (fp16 mixed precision reads them before the chain unscales them): the
 * monitor divides them by the scale of their step, so they equal the readings of the same gradients without the
 * scale; a power-of-two scale moves the histogram back by whole bins (bin for bin what the unscaled gradients give), a
 * static scale that is not a power of two keeps the scaled bins and says so; the fp16 underflow watch answers the same
 * question from either reading; and the scale is captured when the gradients are read, not when they are read back.
 */
class LossScaledReadingTest {
    static final Device CPU = Device.cpu();

    /** Random gradients over 60 binades (2^-70 .. 2^-10), some exact zeros, values that stay normal floats at every scale used. */
    private static double[] gradients(SplittableRandom rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++)
            v[i] = i % 37 == 0 ? 0 : (float) ((rnd.nextBoolean() ? 1 : -1) * Math.pow(2, -70 + 60 * rnd.nextDouble()));
        return v;
    }

    private static Map<String, Tensor> named(double[][] grads, double factor) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (int k = 0; k < grads.length; k++) {
            double[] g = grads[k].clone();
            for (int i = 0; i < g.length; i++) g[i] *= factor; // exact for a power of two: the values stay normal floats
            Tensor w = Tensor.ones(CPU, DType.F32, g.length).requiresGrad(true);
            w.setGrad(Tensor.fromArray(CPU, DType.F32, g, g.length));
            m.put("p" + k, w);
        }
        return m;
    }

    private static Tensor scalar(double v) { return Tensor.scalar(CPU, DType.F32, v); }

    @Test
    void aPowerOfTwoScaleIsDividedOutOfNormsMaximaAndBins() {
        long seed = System.nanoTime();
        System.out.println("LossScaledReadingTest seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] g = {gradients(rnd, 4000), gradients(rnd, 999)};
        try (Scope s = Scope.open()) {
            List<ParamStats> plain;
            try (GradStats.Pending p = GradStats.compute(named(g, 1))) {
                plain = p.read();
            }
            for (double scale : new double[] {65536, 0x1p24, 0.25}) {
                List<ParamStats> scaled;
                try (GradStats.Pending p = GradStats.compute(named(g, scale), scalar(scale))) {
                    scaled = p.read();
                }
                for (int k = 0; k < g.length; k++) {
                    ParamStats a = plain.get(k), b = scaled.get(k);
                    String what = "seed " + seed + " scale " + scale + " p" + k;
                    assertEquals(a.gradNorm(), b.gradNorm(), 1e-12 * a.gradNorm(), what + " norm");
                    assertEquals(a.maxAbsGrad(), b.maxAbsGrad(), 0, what + " max |g| (exact: a power of two)");
                    assertEquals(a.zeros(), b.zeros(), what);
                    assertEquals(1, b.histogram().scale(), what + ": moved back, so the bins are the gradients' own");
                    assertArrayEquals(a.histogram().counts(), b.histogram().counts(), what + " bins");
                }
            }
        }
    }

    @Test
    void aStaticScaleThatIsNotAPowerOfTwoKeepsTheScaledBinsMarked() {
        SplittableRandom rnd = new SplittableRandom(7);
        double[][] g = {gradients(rnd, 3000)};
        double scale = 1000;
        try (Scope s = Scope.open()) {
            ParamStats plain, raw, scaled;
            try (GradStats.Pending p = GradStats.compute(named(g, 1))) { plain = p.read().getFirst(); }
            try (GradStats.Pending p = GradStats.compute(named(g, scale))) { raw = p.read().getFirst(); }
            try (GradStats.Pending p = GradStats.compute(named(g, scale), scalar(scale))) { scaled = p.read().getFirst(); }
            assertEquals(plain.gradNorm(), scaled.gradNorm(), 1e-6 * plain.gradNorm(), "norm divided by the scale");
            assertEquals(plain.maxAbsGrad(), scaled.maxAbsGrad(), 1e-6 * plain.maxAbsGrad(), "max |g| divided by the scale");
            assertEquals(scale, scaled.histogram().scale(), "marked: the bins count g * 1000");
            assertArrayEquals(raw.histogram().counts(), scaled.histogram().counts(), "the scaled values' bins, not shifted");
            assertTrue(!java.util.Arrays.equals(plain.histogram().counts(), scaled.histogram().counts()), "1000 is not a whole shift");
            assertThrows(IllegalArgumentException.class, () -> plain.histogram().plus(scaled.histogram()),
                    "histograms at different scales are not added");
        }
    }

    @Test
    void theUnderflowWatchMeansTheSameOnScaledAndUnscaledReadings() {
        SplittableRandom rnd = new SplittableRandom(11);
        double[][] g = {gradients(rnd, 5000)};
        try (Scope s = Scope.open()) {
            for (double scale : new double[] {1024, 65536, 1000}) {
                // what fp16 flushes at this scale, counted from the gradients as the chain leaves them (scaled, scale 1)
                UnderflowWatch.Underflow direct = UnderflowWatch.measure(named(g, scale), 1).getFirst();
                // the same question asked of the monitor's reading, which is divided by the scale
                ParamStats reading;
                try (GradStats.Pending p = GradStats.compute(named(g, scale), scalar(scale))) { reading = p.read().getFirst(); }
                UnderflowWatch.Underflow fromReading = UnderflowWatch.of(reading, scale);
                assertEquals(direct.flushing(), fromReading.flushing(), "scale " + scale);
                if (Log2Histogram.powerOfTwo(scale)) // measure() rounds a scale's exponent down to a whole one: exact for 2^k only
                    assertEquals(UnderflowWatch.measure(named(g, 1), scale).getFirst().flushing(), fromReading.flushing(),
                            "scale " + scale + ": unscaled gradients measured at the scale");
                assertTrue(direct.flushing() > 0 && direct.flushing() < 5000, "the case has flushing and surviving values: " + direct);
            }
        }
    }

    @Test
    void theMonitorUsesTheScaleOfTheStepItReadNotALaterOne() {
        SplittableRandom rnd = new SplittableRandom(3);
        double[][] g = {gradients(rnd, 2000), gradients(rnd, 300)};
        try (Scope s = Scope.open()) {
            Map<String, Tensor> plainParams = named(g, 1);
            GradientMonitor plain = new GradientMonitor(plainParams, 1);
            plain.beforeStep(1);
            HealthSnapshot want = plain.afterStep(1);

            Tensor live = scalar(65536); // the scaler's live scale
            GradientMonitor scaled = new GradientMonitor(named(g, 65536), 1).lossScale(() -> live);
            scaled.beforeStep(1);
            live.copyFrom(scalar(32768)); // the chain's unscale link backs the scale off after the read: not this step's
            HealthSnapshot got = scaled.afterStep(1);
            assertNotNull(got);
            assertEquals(want.globalGradNorm(), got.globalGradNorm(), 1e-12 * want.globalGradNorm());
            for (int k = 0; k < g.length; k++) {
                assertEquals(want.params().get(k).maxAbsGrad(), got.params().get(k).maxAbsGrad(), 0);
                assertArrayEquals(want.params().get(k).histogram().counts(), got.params().get(k).histogram().counts());
            }
            assertEquals(GradStatsLayout.BINS, got.histogram().counts().length);
            // inspect reads gradients as they are unless told their scale
            assertEquals(want.globalGradNorm() * 65536, scaled.inspect(2).globalGradNorm(), 1e-9 * want.globalGradNorm() * 65536);
            assertEquals(want.globalGradNorm(), scaled.inspect(3, scalar(65536)).globalGradNorm(), 1e-12 * want.globalGradNorm());
        }
    }
}
