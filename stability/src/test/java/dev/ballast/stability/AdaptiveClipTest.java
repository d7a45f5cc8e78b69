package dev.ballast.stability;

import dev.ballast.stability.clip.AutoClip;
import dev.ballast.stability.clip.ZClip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * AutoClip and ZClip on a stream of gradients with norms near 1 and one injected spike (x50): the spike is cut to
 * near the usual norm, normal steps are left bit-identical, and the state survives a save and restore.
 */
class AdaptiveClipTest {
    static final Device CPU = Device.cpu();
    final long seed = System.nanoTime();
    final Generator gen = new Generator(seed);
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    private final Tensor w = Tensor.zeros(CPU, DType.F32, 40, 10).requiresGrad(true);
    private final Tensor b = Tensor.zeros(CPU, DType.F32, 10).requiresGrad(true);

    /** Fresh random gradients with global norm {@code scale}; returns the weight gradient's host copy. */
    private float[] grads(double scale) {
        Tensor gw = Tensor.randn(gen, CPU, 40, 10), gb = Tensor.randn(gen, CPU, 10);
        double n = Math.sqrt(gw.square().sum().item() + gb.square().sum().item());
        double target = scale;
        w.setGrad(gw.mul(target / n));
        b.setGrad(gb.mul(target / n));
        return w.grad().toFloatArray();
    }

    private double norm() {
        return Math.sqrt(w.grad().square().sum().item() + b.grad().square().sum().item());
    }

    @Test
    void zclipCutsASpikeAndLeavesNormalStepsAlone() {
        System.out.println("AdaptiveClipTest seed " + seed);
        try (ZClip z = new ZClip(CPU, 2.5)) {
            for (int step = 0; step < 60; step++) {
                float[] before = grads(1 + 0.05 * Math.sin(step));
                z.clip(List.of(w, b));
                assertArrayEquals(before, w.grad().toFloatArray(), "normal step " + step + " is left alone (seed " + seed + ")");
            }
            grads(50);
            double coef = z.clip(List.of(w, b)).item();
            assertTrue(coef < 0.05, "the x50 spike is cut: coefficient " + coef);
            double after = norm();
            assertTrue(after > 0.9 && after < 1.5, "to near the usual norm: " + after);
            float[] before = grads(1.02);
            z.clip(List.of(w, b));
            assertArrayEquals(before, w.grad().toFloatArray(), "the spike did not raise or lower the bar much");
            Map<String, Tensor> state = z.stateDict();
            try (ZClip restored = new ZClip(CPU, 2.5)) {
                restored.loadStateDict(state);
                assertEquals(z.steps(), restored.steps());
                assertArrayEquals(z.meanAndStd(), restored.meanAndStd(), 0);
            }
        }
    }

    @Test
    void autoclipCutsASpikeAtThePercentileAndLeavesNormalStepsAlone() {
        AutoClip a = new AutoClip(90);
        for (int step = 0; step < 60; step++) {
            double scale = 1 + 0.05 * Math.sin(step);
            float[] before = grads(scale);
            double threshold = a.clip(List.of(w, b));
            if (scale <= threshold) assertArrayEquals(before, w.grad().toFloatArray(), "step " + step + " under the percentile is left alone");
            else assertEquals(threshold, norm(), 1e-4 * threshold, "step " + step + " over the percentile is clipped to it");
        }
        grads(50);
        double threshold = a.clip(List.of(w, b));
        assertEquals(threshold, norm(), 1e-4 * threshold, "the spike is clipped to the 90th percentile");
        assertTrue(threshold < 1.2, "the percentile of ~1 norms: " + threshold);
        AutoClip restored = new AutoClip(90);
        restored.loadStateDict(a.stateDict(CPU));
        assertEquals(a.steps(), restored.steps());
        assertEquals(3.5, AutoClip.percentile(new double[] {1, 2, 3, 4, 5, 6}, 50), 1e-12, "numpy's linear interpolation");
        assertThrows(IllegalArgumentException.class, () -> new AutoClip(0));
    }
}
