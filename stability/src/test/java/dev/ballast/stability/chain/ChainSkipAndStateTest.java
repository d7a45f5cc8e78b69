package dev.ballast.stability.chain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.scale.GradScaler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Skipped steps change nothing, skip bookkeeping and its limit, the scaler's flag where it stands, link state. */
class ChainSkipAndStateTest {
    static final Device CPU = Device.cpu();

    /**
     * Every order of the built-in links around a skip (or an unscale, which skips on overflow), with AdamW and with
     * momentum SGD: a step whose gradients hold NaN leaves weights, moments and step counters bit-identical.
     */
    @Test void aSkippedStepLeavesEverythingBitIdenticalForEveryChain() {
        List<Function<GradScaler, Link>> pool = List.of(s -> Link.clipByValue(0.5), s -> Link.clipByGlobalNorm(1.0),
                s -> Link.clipByGlobalNorm(0.3, Double.POSITIVE_INFINITY), s -> Link.adaptiveClip(0.1), s -> Link.scaleBy(0.5));
        long seed = System.nanoTime();
        System.out.println("aSkippedStepLeavesEverythingBitIdenticalForEveryChain seed " + seed);
        Random rnd = new Random(seed);
        int chains = 0;
        for (int guard = 0; guard < 2; guard++) {          // 0: skipIfNonFinite, 1: unscale(scaler)
            for (int position = 0; position <= 2; position++) {
                for (boolean adam : new boolean[]{true, false}) {
                    try (Scope s = Scope.open(); GradScaler scaler = new GradScaler(CPU, 1024, 2, 0.5, 2000)) {
                        List<Tensor> params = List.of(param(rnd, 6, 4), param(rnd, 6), param(rnd, 3, 2, 2));
                        Optimizer opt = adam ? new AdamW(params, 1e-2) : new SGD(params, 0.1, 0.9, 0, 0.01, false);
                        List<Link> links = new ArrayList<>();
                        links.add(pool.get(rnd.nextInt(pool.size())).apply(scaler));
                        links.add(pool.get(rnd.nextInt(pool.size())).apply(scaler));
                        links.add(position, guard == 0 ? Link.skipIfNonFinite() : Link.unscale(scaler));
                        links.add(Link.apply(opt));
                        try (opt; GradientChain chain = GradientChain.of(links)) {
                            for (int i = 0; i < 2; i++) {           // two good steps create the moments
                                setGrads(rnd, params, Double.NaN, -1);
                                chain.step();
                            }
                            Map<String, double[]> before = snapshot(params, opt, chain);
                            setGrads(rnd, params, Double.NaN, rnd.nextInt(params.size()));
                            StepStats.Values v = chain.step().read();
                            assertTrue(v.skipped() && v.nonFinite(), links + ": " + v);
                            Map<String, double[]> after = snapshot(params, opt, chain);
                            for (var e : before.entrySet()) {
                                if (e.getKey().startsWith("chain.skips") || e.getKey().startsWith("chain.link")) continue;
                                double[] x = e.getValue(), y = after.get(e.getKey());
                                for (int k = 0; k < x.length; k++)
                                    assertEquals(Double.doubleToRawLongBits(x[k]), Double.doubleToRawLongBits(y[k]),
                                            "seed " + seed + " " + links + ": " + e.getKey() + "[" + k + "]");
                            }
                            assertEquals(2, opt.stepCount(), links + ": the skipped step does not count");
                            chains++;
                        }
                    }
                }
            }
        }
        assertEquals(12, chains);
    }

    /** Consecutive and total skips live on the device; the limit stops training when the statistics are read. */
    @Test void skipCountersAndTheConsecutiveSkipLimit() {
        Random rnd = new Random(7);
        try (Scope s = Scope.open()) {
            List<Tensor> params = List.of(param(rnd, 4, 3), param(rnd, 4));
            try (SGD sgd = new SGD(params, 0.1);
                 GradientChain chain = GradientChain.of(Link.skipIfNonFinite(), Link.clipByGlobalNorm(1), Link.apply(sgd))
                         .maxConsecutiveSkips(3, List.of("fc.weight", "fc.bias"))) {
                double[] nanAt = {0, 1, 1, 0, 1, 1, 1};       // the last three in a row reach the limit at step 7
                StepStats last = null;
                for (int i = 0; i < 6; i++) {
                    setGrads(rnd, params, Double.POSITIVE_INFINITY, nanAt[i] == 1 ? 1 : -1);
                    last = chain.step();
                }
                StepStats.Values v = last.read();
                assertEquals(2, v.consecutiveSkips());
                assertEquals(4, v.totalSkips());
                setGrads(rnd, params, Double.POSITIVE_INFINITY, 1);
                StepStats hit = chain.step();
                setGrads(rnd, params, Double.NaN, -1);
                StepStats later = chain.step();               // a good step after: the limit was still reached
                TooManySkippedStepsException e = assertThrows(TooManySkippedStepsException.class, later::read);
                assertEquals(7, e.step());
                assertEquals(1, e.parameterIndex());
                assertTrue(e.getMessage().contains("step 7") && e.getMessage().contains("'fc.bias'"), e.getMessage());
                assertThrows(TooManySkippedStepsException.class, hit::read);
            }
        }
    }

    /** The scaler's overflow flag is taken where unscale stands: a later clamp cannot hide an overflow from it. */
    @Test void unscaleRecordsTheOverflowWhereItStands() {
        try (Scope s = Scope.open(); GradScaler scaler = new GradScaler(CPU, 1024, 2, 0.5, 2000)) {
            Tensor w = Tensor.fromArray(CPU, DType.F32, new double[]{1, 1}, 2).requiresGrad(true);
            try (SGD sgd = new SGD(List.of(w), 0.1); GradientChain chain = GradientChain.of(Link.unscale(scaler), Link.clipByValue(1), Link.apply(sgd))) {
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{Double.POSITIVE_INFINITY, 512}, 2));
                StepStats.Values v = chain.step().read();
                assertTrue(v.skipped(), "the overflow seen by unscale skips the step");
                assertEquals(512, scaler.scale().item(), "and backs the scale off");
                assertArrayEquals(new double[]{1, 1}, w.toDoubleArray());
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{4096, 256}, 2)); // (8, 0.5) unscaled, clamped to (1, 0.5)
                v = chain.step().read();
                assertFalse(v.skipped());
                assertEquals(Math.sqrt(64 + 0.25), v.norm(), 1e-4, "StepStats.norm is of the unscaled gradients");
                assertEquals(1, v.coefficient(), "no norm-based link: coefficient 1");
                assertArrayEquals(new double[]{0.9, 0.95}, w.toDoubleArray(), 1e-6);
            }
        }
    }

    /** Clip coefficients multiply into StepStats.coefficient; the norm is of the first norm-based link's type. */
    @Test void statisticsOfAChain() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(CPU, DType.F32, 2).requiresGrad(true);
            w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{3, -4}, 2));
            try (SGD sgd = new SGD(List.of(w), 1); GradientChain chain = GradientChain.of(
                    Link.clipByGlobalNorm(2, Double.POSITIVE_INFINITY), Link.clipByGlobalNorm(1), Link.apply(sgd))) {
                StepStats.Values v = chain.step().read();
                assertEquals(4, v.norm(), 1e-5, "the inf-norm of the entering gradients");
                // inf-norm clip: 2/4 = 0.5 -> (1.5, -2), L2 2.5 -> 1/2.5 = 0.4: product 0.2
                assertEquals(0.2, v.coefficient(), 1e-5);
                assertArrayEquals(new double[]{-0.6, 0.8}, w.toDoubleArray(), 1e-5);
            }
        }
    }

    /** A link written by a user, with state: updated on the device, saved and restored with the chain. */
    @Test void aUserLinkWithStateIsSavedAndRestored() {
        Link runningMax = new Link() {
            @Override public LinkState init(List<Tensor> params) {
                return LinkState.of(Map.of("max", Tensor.zeros(params.getFirst().device(), DType.F32)));
            }

            @Override public void update(Gradients g, LinkState state) {
                Tensor norm = g.norm(2), max = state.get("max");
                Tensor limit = Tensor.where(max.gt(0), max, norm);
                g.clip(limit.div(norm.add(1e-6)).minimum(1.0));
                max.copyFrom(Tensor.where(g.skipFlag(), max, max.maximum(norm)));
            }

            @Override public OptionalDouble readsNorm() { return OptionalDouble.of(2); }
        };
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(CPU, DType.F32, 2).requiresGrad(true);
            try (SGD sgd = new SGD(List.of(w), 1); GradientChain chain = GradientChain.of(GradientChain.of(runningMax), Link.apply(sgd))) {
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{3, 4}, 2));
                chain.step();
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{30, 40}, 2));
                assertEquals(0.1, chain.step().coefficient(), 1e-5, "clipped to the largest norm seen so far (5)");
                Map<String, Tensor> saved = new LinkedHashMap<>();
                for (var e : chain.stateDict().entrySet()) saved.put(e.getKey(), e.getValue().copy());
                assertEquals(List.of("link.0.0.max", "skips.steps", "skips.consecutive", "skips.total"), List.copyOf(saved.keySet()));
                assertEquals(50, saved.get("link.0.0.max").item(), 1e-4, "the largest norm seen, 50, is the state");
                try (SGD sgd2 = new SGD(List.of(w), 1); GradientChain fresh = GradientChain.of(GradientChain.of(runningMax), Link.apply(sgd2))) {
                    fresh.loadStateDict(saved);
                    w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{300, 400}, 2));
                    assertEquals(0.1, fresh.step().coefficient(), 1e-5, "the restored state clips to 50");
                    assertEquals(3, fresh.stateDict().get("skips.steps").item());
                    saved.remove("skips.total");
                    assertThrows(IllegalArgumentException.class, () -> fresh.loadStateDict(saved));
                }
            }
        }
    }

    /** GradScaler as PyTorch users call it: scale(loss), unscale, step(optimizer), update(). */
    @Test void gradScalerPytorchApi() {
        try (Scope s = Scope.open(); GradScaler scaler = new GradScaler(CPU, 1024, 2, 0.5, 2000)) {
            Tensor w = Tensor.fromArray(CPU, DType.F32, new double[]{1, -1}, 2).requiresGrad(true);
            try (SGD sgd = new SGD(List.of(w), 0.5)) {
                scaler.scale(w.mul(w).sum()).backward();          // d/dw = 2w, scaled by 1024
                scaler.step(sgd);
                scaler.update();
                assertArrayEquals(new double[]{0, 0}, w.toDoubleArray(), 1e-6, "w - 0.5 * 2w");
                w.setGrad(Tensor.fromArray(CPU, DType.F32, new double[]{Double.NaN, 1}, 2));
                scaler.unscale(sgd);
                assertThrows(IllegalStateException.class, () -> scaler.unscale(sgd), "unscale twice before update");
                scaler.step(sgd);
                scaler.update();
                assertArrayEquals(new double[]{0, 0}, w.toDoubleArray(), 0.0, "overflow: the step is skipped");
                assertEquals(512, scaler.scale().item(), "and the scale backs off");
                assertEquals(1, sgd.stepCount());
                assertThrows(IllegalStateException.class, scaler::update, "no checks recorded since the last update");
            }
        }
    }

    private static Tensor param(Random rnd, long... shape) {
        return Tensor.fromArray(CPU, DType.F32, ChainSemanticsTest.gaussian(rnd, shape, 1), shape).requiresGrad(true);
    }

    /** Fresh random gradients; parameter {@code bad} (if >= 0) gets {@code value} at element 0. */
    private static void setGrads(Random rnd, List<Tensor> params, double value, int bad) {
        for (int i = 0; i < params.size(); i++) {
            double[] g = ChainSemanticsTest.gaussian(rnd, params.get(i).shape(), 3);
            if (i == bad) g[0] = value;
            params.get(i).setGrad(Tensor.fromArray(CPU, DType.F32, g, params.get(i).shape()));
        }
    }

    private static Map<String, double[]> snapshot(List<Tensor> ps, Optimizer opt, GradientChain chain) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (int i = 0; i < ps.size(); i++) m.put("param." + i, ps.get(i).toDoubleArray());
        for (var e : opt.stateDict().entrySet()) m.put(e.getKey(), e.getValue().toDoubleArray());
        for (var e : chain.stateDict().entrySet()) m.put("chain." + e.getKey(), e.getValue().toDoubleArray());
        return m;
    }
}
