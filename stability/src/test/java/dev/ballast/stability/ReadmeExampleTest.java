package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.TwoSpirals;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Losses;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.Tanh;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.StepStats;
import dev.ballast.stability.chain.Link;
import org.junit.jupiter.api.Test;

/** The README's Java example, run as written: a clipped, skip-guarded AdamW chain that learns. */
class ReadmeExampleTest {
    @Test void theReadmeExampleTrains() {
        Device dev = Device.auto();
        try (Scope outer = Scope.open(); Dataset data = TwoSpirals.generate(dev, 128, 0.0, 3)) {
            Tensor x = data.inputs(), y = data.targets();
            var spec = new ParamSpec(dev, DType.F32, new Generator(0));
            Module model = new Sequential(new Linear(2, 64, spec), new Tanh(), new Linear(64, 2, spec));
            AdamW adamw = new AdamW(model.parameters(), 1e-2);
            GradientChain step = GradientChain.of(Link.clipByGlobalNorm(1.0), Link.skipIfNonFinite(), Link.apply(adamw));
            double first = Double.NaN, last = Double.NaN;
            for (int i = 0; i < 150; i++) {
                try (Scope s = Scope.open()) {
                    Tensor loss = Losses.crossEntropy(model.call(x), y);
                    adamw.zeroGrad();
                    loss.backward();
                    StepStats stats = step.step();                // on the device until read
                    if (i % 50 == 0) assertFalse(stats.read().nonFinite()); // read() is the one sync
                    if (i == 0) first = loss.item();
                    last = loss.item();
                }
            }
            assertTrue(last < 0.8 * first, "loss " + first + " -> " + last);
            assertEquals(150, adamw.stepCount());
            model.close();
            adamw.close();
        }
    }
}
