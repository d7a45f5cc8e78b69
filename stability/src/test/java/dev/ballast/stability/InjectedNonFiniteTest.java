package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Losses;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.Tanh;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.scale.GradScaler;
import dev.ballast.stability.scale.LossScalePolicy;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Inf and NaN injected into random gradient entries at seeded random steps of a real training loop (MLP, AdamW,
 * the stability chain): no weight ever becomes non-finite, and the skipped steps are exactly the injected ones (fp32,
 * and a static loss scale, where nothing overflows by itself), or the injected ones plus the natural overflows
 * (fp16 autocast with dynamic scaling started too high), each reported. The default suite runs 500 steps per mode;
 * the {@code slow} test runs the 10,000.
 */
class InjectedNonFiniteTest {
    static final Device CPU = Device.cpu();

    enum Mode { FP32, STATIC_SCALE, FP16_DYNAMIC }

    @Test void skippedStepsAreExactlyTheInjectedOnes() {
        for (Mode m : Mode.values()) run(m, 500);
    }

    @Tag("slow")
    @Test void tenThousandSteps() {
        for (Mode m : Mode.values()) run(m, 10_000);
    }

    static void run(Mode mode, int steps) {
        long seed = System.nanoTime();
        System.err.println("InjectedNonFiniteTest " + mode + " seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        Generator gen = new Generator(seed);
        try (Scope s = Scope.open()) {
            Sequential model = new Sequential(new Linear(8, 32, new ParamSpec(CPU, DType.F32, gen)), new Tanh(),
                    new Linear(32, 4, new ParamSpec(CPU, DType.F32, gen)));
            var params = model.parameters();
            Tensor x = Tensor.randn(gen, CPU, 64, 8), y = Tensor.randn(gen, CPU, 64, 4);
            AdamW adamw = new AdamW(params, 1e-3);
            GradScaler scaler = switch (mode) {
                case FP32 -> null;
                case STATIC_SCALE -> new GradScaler(CPU, LossScalePolicy.staticScale(1024));
                // started far too high and growing every 25 clean steps: overflows happen by themselves, again and again
                case FP16_DYNAMIC -> new GradScaler(CPU, LossScalePolicy.pytorch(0x1p40, 2, 0.5, 25));
            };
            if (mode == Mode.FP16_DYNAMIC) adamw.keepWorkingCopies(DType.F16);
            GradientChain chain = scaler == null ? GradientChain.of(Link.skipIfNonFinite(), Link.apply(adamw))
                    : GradientChain.of(Link.unscale(scaler), Link.apply(adamw));
            // 3% of the steps, drawn up front: a fixed count, so no seed can leave the test with too few injections
            TreeSet<Integer> toInject = new TreeSet<>();
            while (toInject.size() < Math.max(1, steps * 3 / 100)) toInject.add(rnd.nextInt(steps));
            TreeSet<Integer> injected = new TreeSet<>(), natural = new TreeSet<>(), skipped = new TreeSet<>();
            for (int step = 0; step < steps; step++) {
                try (Scope it = Scope.open()) {
                    adamw.zeroGrad();
                    Tensor loss;
                    try (Autocast.Guard g = Autocast.enable(mode == Mode.FP16_DYNAMIC ? DType.F16 : DType.F32)) {
                        loss = Losses.mse(model.call(x), y);
                    }
                    (scaler == null ? loss : scaler.scaleLoss(loss)).backward();
                    if (mode == Mode.FP16_DYNAMIC && !allFinite(params, true)) natural.add(step);
                    if (toInject.contains(step)) {
                        injected.add(step);
                        Tensor p = params.get(rnd.nextInt(params.size()));
                        double[] g = p.grad().toDoubleArray();
                        g[rnd.nextInt(g.length)] = switch (rnd.nextInt(3)) {
                            case 0 -> Double.POSITIVE_INFINITY;
                            case 1 -> Double.NEGATIVE_INFINITY;
                            default -> Double.NaN;
                        };
                        p.grad().copyFrom(Tensor.fromArray(CPU, DType.F32, g, p.shape()));
                    }
                    long before = adamw.stepCount();
                    chain.step();
                    if (adamw.stepCount() == before) skipped.add(step);
                    assertTrue(allFinite(params, false), mode + ": a weight became non-finite at step " + step);
                }
            }
            TreeSet<Integer> expected = new TreeSet<>(injected);
            expected.addAll(natural);
            System.err.printf("%s, %d steps: %d injected, %d natural overflows %s, %d skipped%n", mode, steps, injected.size(),
                    natural.size(), natural.size() > 20 ? natural.headSet(natural.first() + 200) + "..." : natural, skipped.size());
            assertEquals(toInject, injected, "every drawn step was injected");
            if (mode == Mode.FP16_DYNAMIC) assertTrue(!natural.isEmpty(), "a scale of 2^40 overflows fp16 by itself");
            else assertTrue(natural.isEmpty());
            assertEquals(expected, skipped, mode + ": skipped steps are exactly the injected ones plus natural overflows");
            assertEquals(steps - expected.size(), adamw.stepCount(), "skipped steps do not advance the optimizer's count");
            if (scaler != null) assertEquals(expected.size(), (long) scaler.skippedSteps().item(), "the scaler counts every skip");
            adamw.close();
            if (scaler != null) scaler.close();
        }
    }

    /** Whether every weight (or every gradient) is finite. */
    static boolean allFinite(java.util.List<Tensor> params, boolean grads) {
        for (Tensor p : params) {
            Tensor t = grads ? p.grad() : p;
            if (t == null) continue;
            if (t.isFinite().to(DType.F32).min().item() == 0) return false;
        }
        return true;
    }
}
