package dev.ballast.engine.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.backend.LrSchedule;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Learning-rate schedules against their closed forms, and their use through the optimizer's step count. */
class ScheduleTest {
    @Test
    void constantStepCosine() {
        assertEquals(0.3, LrSchedule.constant().lr(123, 0.3));
        LrSchedule s = LrSchedule.step(10, 0.5);
        assertEquals(1.0, s.lr(0, 1.0));
        assertEquals(1.0, s.lr(9, 1.0));
        assertEquals(0.5, s.lr(10, 1.0));
        assertEquals(0.125, s.lr(35, 1.0));
        LrSchedule c = LrSchedule.cosine(100, 0.01);
        assertEquals(1.0, c.lr(0, 1.0), 1e-15);
        assertEquals(0.01 + 0.99 * 0.5, c.lr(50, 1.0), 1e-15);
        assertEquals(0.01 + 0.99 * (1 + Math.cos(Math.PI * 0.3)) / 2, c.lr(30, 1.0), 1e-15);
        assertEquals(0.01, c.lr(100, 1.0), 1e-15);
        assertEquals(0.01, c.lr(250, 1.0), 1e-15);
    }

    @Test
    void warmupThenInner() {
        LrSchedule w = LrSchedule.cosine(10, 0).withWarmup(4);
        assertEquals(0.25, w.lr(0, 1.0), 1e-15);
        assertEquals(0.5, w.lr(1, 1.0), 1e-15);
        assertEquals(1.0, w.lr(3, 1.0), 1e-15);
        assertEquals(1.0, w.lr(4, 1.0), 1e-15); // cosine at 0
        assertEquals((1 + Math.cos(Math.PI * 0.2)) / 2, w.lr(6, 1.0), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.constant().withWarmup(-1));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosine(0, 0));
        assertThrows(IllegalArgumentException.class, () -> w.lr(-1, 1));
    }

    /**
     * One schedule type for both paths: the fused kernels evaluate it on the device (F32 parameters), the composed
     * path on the host (F64 parameters); both give the closed form per group, and a skipped step does not move it.
     */
    @Test
    void optimizerFollowsItsScheduleOnTheDeviceAndOnTheHostAlike() {
        Device cpu = Device.cpu();
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            Tensor a = Tensor.fromArray(cpu, dtype, new double[]{1}, 1).requiresGrad(true);
            Tensor b = Tensor.fromArray(cpu, dtype, new double[]{1}, 1).requiresGrad(true);
            try (SGD sgd = new SGD(List.of(new ParamGroup(List.of(a), 1.0, 0), new ParamGroup(List.of(b), 0.1, 0)), 0, 0, false)) {
                sgd.setSchedule(LrSchedule.step(1, 0.5));
                assertEquals(1.0, sgd.paramGroups().get(0).lr(), 1e-15, "the first update's lr");
                for (int i = 0; i < 4; i++) {
                    a.setGrad(Tensor.ones(cpu, dtype, 1));
                    b.setGrad(Tensor.ones(cpu, dtype, 1));
                    Tensor skip = Tensor.scalar(cpu, DType.F32, i == 2 ? 1 : 0); // the third step is skipped
                    sgd.stepAsync(null, skip);
                }
                assertEquals(3, sgd.stepCount(), dtype + ": skipped steps do not count");
                assertEquals(1 - 1.75, a.item(), 1e-6, dtype + ": lr 1, 0.5, 0.25 over the three taken steps");
                assertEquals(1 - 0.175, b.item(), 1e-6, dtype + ": the second group from its own base lr");
                assertEquals(0.125, sgd.paramGroups().get(0).lr(), 1e-15, dtype + ": the lr of the next update");
            }
        }
    }
}
