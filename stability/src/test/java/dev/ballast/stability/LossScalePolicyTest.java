package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.scale.GradScaler;
import dev.ballast.stability.scale.LossScalePolicy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The loss-scale rules step by step: PyTorch's finite-growth rule, hysteresis, the minimum, DeepSpeed's count, static. */
class LossScalePolicyTest {
    static final Device CPU = Device.cpu();
    Scope scope;

    @BeforeEach void open() { scope = Scope.open(); }

    @AfterEach void close() { scope.close(); }

    /** Runs the given overflow pattern through unscale + SGD; returns the scale after each step and counts. */
    static List<Double> trajectory(GradScaler scaler, boolean... overflow) {
        Tensor w = Tensor.fromArray(CPU, DType.F32, new double[]{1, 1}, 2).requiresGrad(true);
        SGD sgd = new SGD(List.of(w), 0.1);
        GradientChain chain = GradientChain.of(Link.unscale(scaler), Link.apply(sgd));
        List<Double> scales = new ArrayList<>();
        for (boolean bad : overflow) {
            double s = scaler.scale().item();
            w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{bad ? Double.POSITIVE_INFINITY : s, -s}, 2));
            double[] before = w.toDoubleArray();
            chain.step();
            assertEquals(bad, java.util.Arrays.equals(before, w.toDoubleArray()), "a step is skipped exactly when it overflowed");
            scales.add(scaler.scale().item());
        }
        return scales;
    }

    @Test void pytorchGrowsOnlyToAFiniteScale() {
        // torch keeps 2^127: growing it would give infinity in float32, which would then skip every step
        GradScaler s = new GradScaler(CPU, 0x1p126, 2, 0.5, 1);
        assertEquals(List.of(0x1p127, 0x1p127, 0x1p127, 0x1p126), trajectory(s, false, false, false, true));
        assertEquals(1, s.skippedSteps().item());
    }

    @Test void pytorchGrowthCountsFromTheLastOverflow() {
        GradScaler s = new GradScaler(CPU, 8, 2, 0.5, 2);
        assertEquals(List.of(8.0, 16.0, 8.0, 8.0, 16.0, 16.0, 32.0), trajectory(s, false, false, true, false, false, false, false));
    }

    @Test void hysteresisToleratesOverflowsBeforeBackingOff() {
        // two overflows tolerated, the third backs off; a growth refills the tolerance
        GradScaler s = new GradScaler(CPU, LossScalePolicy.pytorch(64, 2, 0.5, 3).withHysteresis(3, false));
        assertEquals(List.of(64.0, 64.0, 32.0, 16.0, 16.0, 16.0, 32.0, 32.0, 32.0, 16.0),
                trajectory(s, true, true, true, true, false, false, false, true, true, true));
    }

    @Test void consecutiveHysteresisRefillsAfterEveryCleanStep() {
        GradScaler s = new GradScaler(CPU, LossScalePolicy.pytorch(64, 2, 0.5, 100).withHysteresis(2, true));
        assertEquals(List.of(64.0, 64.0, 64.0, 64.0, 64.0, 32.0), trajectory(s, true, false, true, false, true, true));
    }

    @Test void minimumScaleIsAFloor() {
        GradScaler s = new GradScaler(CPU, LossScalePolicy.pytorch(4, 2, 0.5, 100).withMinScale(1.5));
        assertEquals(List.of(2.0, 1.5, 1.5), trajectory(s, true, true, true));
    }

    @Test void deepSpeedGrowsOneCleanStepLater() {
        GradScaler ds = new GradScaler(CPU, LossScalePolicy.deepSpeed(8, 2, 2, 1, 1, false));
        GradScaler pt = new GradScaler(CPU, 8, 2, 0.5, 2);
        boolean[] pattern = {false, false, false, true, false, false, false};
        assertEquals(List.of(8.0, 8.0, 16.0, 8.0, 8.0, 8.0, 16.0), trajectory(ds, pattern));
        assertNotEquals(trajectory(ds = new GradScaler(CPU, LossScalePolicy.deepSpeed(8, 2, 2, 1, 1, false)), pattern), trajectory(pt, pattern));
    }

    @Test void staticScaleNeverMovesButStillSkips() {
        GradScaler s = new GradScaler(CPU, LossScalePolicy.staticScale(128));
        assertEquals(List.of(128.0, 128.0, 128.0, 128.0), trajectory(s, false, true, true, false));
        assertEquals(2, s.skippedSteps().item());
    }

    @Test void badRulesAreRejectedWithTheAllowedRange() {
        var e = assertThrows(IllegalArgumentException.class, () -> LossScalePolicy.pytorch(8, 2, 0.5, 2).withHysteresis(0, false));
        assertEquals("hysteresis must be >= 1, got 0", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LossScalePolicy.pytorch(8, 2, 0.5, 2).withMinScale(-1));
        assertThrows(IllegalArgumentException.class, () -> LossScalePolicy.staticScale(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> LossScalePolicy.deepSpeed(8, 1, 2, 1, 1, false));
    }
}
