package dev.ballast.train.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardPolicy;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The explosion guard in an fp16 run: it judges gradient norms divided by the loss scale (so a steady run at scale
 * 2^16 is steady, not a spike), and a step whose scaled gradients overflowed with a finite loss passes through
 * untouched and uncounted (the chain's unscale link skips it and backs the scale off); a non-finite loss is still its.
 */
class GuardLossScaleTest {
    static final Device CPU = Device.cpu();

    @Test void overflowOfScaledGradientsIsTheScalersNotAnExplosion() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(CPU, DType.F32, 3).requiresGrad(true);
            Tensor scale = Tensor.scalar(CPU, DType.F32, 65536);
            try (SGD opt = new SGD(List.of(w), 0.1);
                 ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("skip"), Map.of("w", w), opt, ExplosionGuard.Settings.defaults())) {
                GuardHook hook = new GuardHook(guard, List.of(w), null, scale);
                Tensor loss = Tensor.scalar(CPU, DType.F32, 0.5);
                // a long steady run of unit-norm gradients, arriving scaled by 2^16
                for (long step = 1; step <= 60; step++) {
                    w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{65536, 0, 0}, 3));
                    assertTrue(hook.beforeStep(step, null, loss), "step " + step + " is steady once unscaled");
                    hook.afterStep(step, true);
                }
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{Double.POSITIVE_INFINITY, 0, 0}, 3));
                assertTrue(hook.beforeStep(61, null, loss), "an fp16 overflow goes on to the chain's unscale, which skips it");
                hook.afterStep(61, true);
                assertEquals(List.of(), guard.events(), "no guard event for steady scaled norms or an fp16 overflow");
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{1e6 * 65536, 0, 0}, 3));
                assertTrue(!hook.beforeStep(62, null, loss), "a real spike (1e6 x the unscaled norm) is still the guard's");
                assertEquals(1, guard.events().size(), guard.events().toString());
            }
        }
    }
}
