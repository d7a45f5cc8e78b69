package dev.ballast.train.probe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.nn.Module;
import org.junit.jupiter.api.Test;

/** Plain deep ReLU nets shatter their gradients; the same depth with skip connections keeps them correlated. */
class ShatterProbeTest {
    @Test
    void plainDeepReluNetIsLessCorrelatedThanTheResidualOne() {
        // one initialization can leave a plain net barely shattered (seed 234: lag-1 0.89), so the claim is about the
        // mean over several initializations, as in Balduzzi et al.'s figures
        long seed = System.nanoTime() % 1000;
        System.out.println("ShatterProbeTest seed " + seed);
        int nets = 5;
        double plain = 0, residual = 0;
        for (int i = 0; i < nets; i++) {
            try (Module p = ShatterProbe.reluNet(Device.cpu(), 24, 100, false, seed + 1000L * i);
                 Module r = ShatterProbe.reluNet(Device.cpu(), 24, 100, true, seed + 1000L * i)) {
                double pl = ShatterProbe.probe(p, 1, 128, -2, 2).lag1();
                double re = ShatterProbe.probe(r, 1, 128, -2, 2).lag1();
                System.out.println("lag-1 autocorrelation: plain " + pl + ", residual " + re);
                assertTrue(re > 0.5, "seed " + seed + ", net " + i + ": residual gradients stay correlated: " + re);
                plain += pl / nets;
                residual += re / nets;
            }
        }
        assertTrue(plain < residual - 0.05, "seed " + seed + ": mean lag-1 autocorrelation plain " + plain + " vs residual " + residual);
    }

    @Test
    void autocorrelationOfKnownSequences() {
        double[] r = ShatterProbe.autocorrelation(new double[] {1, -1, 1, -1, 1, -1, 1, -1}, 2);
        assertEquals(1, r[0], 1e-12);
        assertEquals(-7.0 / 8, r[1], 1e-12, "alternating signs: strongly negative at lag 1");
        assertEquals(6.0 / 8, r[2], 1e-12);
        double[] line = new double[100];
        for (int i = 0; i < 100; i++) line[i] = i;
        assertTrue(ShatterProbe.autocorrelation(line, 1)[1] > 0.95, "a smooth ramp is correlated");
        assertArrayEquals(new double[] {1, 0}, ShatterProbe.autocorrelation(new double[] {2, 2, 2, 2}, 1), "constant: defined as 1, 0");
    }
}
