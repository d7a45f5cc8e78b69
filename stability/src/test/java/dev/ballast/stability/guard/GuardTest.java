package dev.ballast.stability.guard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.chain.StepStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The explosion guard as a chain link: its decisions against a float64 reference of the rule, skipped and
 * rolled-back steps bit-identical to what they should restore, the backoff, and its state through a checkpoint.
 */
class GuardTest {
    static final Device CPU = Device.cpu();
    static final ExplosionGuard.Settings SETTINGS = new ExplosionGuard.Settings(6, 0.9, 10, 5);

    @Test void parsesPoliciesAndNamesWhatIsAllowed() {
        assertEquals(List.of(new GuardPolicy.Rollback(), new GuardPolicy.Backoff(0.5, 100)), GuardPolicy.parse("rollback, backoff:0.5:100"));
        assertEquals(List.of(new GuardPolicy.Backoff(0.5, 100)), GuardPolicy.parse("backoff"));
        for (String bad : new String[] {"", "explode", "backoff:2:10", "backoff:x:1", "skip,skip", "skip:3"}) {
            var e = assertThrows(IllegalArgumentException.class, () -> GuardPolicy.parse(bad), bad);
            assertTrue(e.getMessage().contains("allowed") || e.getMessage().contains("twice") || e.getMessage().contains("must be"), e.getMessage());
        }
    }

    /** The rule in float64: z-scores against an EMA of mean and variance, spikes and non-finite values not folded in. */
    static final class Reference {
        final double beta, threshold;
        final long warmup;
        double lm, lv, gm, gv;
        long ls, gs;

        Reference(ExplosionGuard.Settings s) {
            beta = s.beta();
            threshold = s.zThreshold();
            warmup = s.warmup();
        }

        double z(double x, double mean, double var, long seen) {
            if (seen < warmup) return 0;
            return (x - mean) / Math.max(Math.sqrt(var), 1e-3 * Math.abs(mean) + 1e-12);
        }

        /** The cause of this step (null: none), updating the averages as the guard does. */
        String step(double loss, double norm) {
            if (!Double.isFinite(loss)) return "non-finite-loss";
            if (!Double.isFinite(norm)) return "non-finite-grad";
            boolean lSpike = z(loss, lm, lv, ls) > threshold, gSpike = z(norm, gm, gv, gs) > threshold;
            if (!lSpike) {
                double d = loss - lm;
                if (ls == 0) { lm = loss; lv = 0; } else { lm += (1 - beta) * d; lv = beta * (lv + (1 - beta) * d * d); }
                ls++;
            }
            if (!gSpike) {
                double d = norm - gm;
                if (gs == 0) { gm = norm; gv = 0; } else { gm += (1 - beta) * d; gv = beta * (gv + (1 - beta) * d * d); }
                gs++;
            }
            return lSpike ? "loss-spike" : gSpike ? "grad-spike" : null;
        }
    }

    /** A stream of (loss, norm): noise, a loss spike at 30, a norm spike at 45, a NaN loss at 60, an inf gradient at 70. */
    static double[][] stream(long seed, int n) {
        Random r = new Random(seed);
        double[][] v = new double[n][];
        for (int i = 0; i < n; i++) v[i] = new double[] {2 + 0.1 * r.nextGaussian(), 1 + 0.05 * r.nextGaussian()};
        v[30][0] = 40;
        v[45][1] = 30;
        v[60][0] = Double.NaN;
        v[70][1] = Double.POSITIVE_INFINITY;
        return v;
    }

    static List<Tensor> params(Generator gen) {
        return List.of(Tensor.randn(gen, CPU, 6, 4).requiresGrad(true), Tensor.randn(gen, CPU, 4).requiresGrad(true));
    }

    /** Fresh gradients of global norm {@code norm} (infinite: one element infinite). */
    static void setGrads(Generator gen, List<Tensor> params, double norm) {
        List<Tensor> gs = new ArrayList<>();
        double sq = 0;
        for (Tensor p : params) {
            Tensor g = Tensor.randn(gen, CPU, p.shape());
            sq += g.square().sum().item();
            gs.add(g);
        }
        for (int i = 0; i < params.size(); i++) {
            Tensor g = gs.get(i).mul(Double.isFinite(norm) ? norm / Math.sqrt(sq) : 1 / Math.sqrt(sq));
            if (!Double.isFinite(norm) && i == 0) {
                double[] a = new double[(int) g.numel()];
                a[0] = norm;
                g = g.add(Tensor.fromArray(CPU, DType.F32, a, g.shape()));
            }
            params.get(i).setGrad(g.detach());
        }
    }

    static StepStats.Values step(GradientChain chain, Generator gen, List<Tensor> params, double[] lossAndNorm) {
        setGrads(gen, params, lossAndNorm[1]);
        return chain.step(Tensor.scalar(CPU, DType.F32, lossAndNorm[0])).read();
    }

    @Test void decisionsMatchTheFloat64Rule() {
        long seed = System.nanoTime();
        System.out.println("guard decisions seed " + seed);
        double[][] s = stream(seed, 100);
        try (Scope sc = Scope.open()) {
            List<Tensor> params = params(new Generator(seed));
            SGD opt = new SGD(params, 0.01, 0.9, 0, 0, false);
            ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("skip"), SETTINGS);
            try (GradientChain chain = GradientChain.of(guard, Link.apply(opt))) {
                GuardLog log = new GuardLog(guard, chain.stateOf(guard));
                Reference ref = new Reference(SETTINGS);
                Generator gen = new Generator(seed + 1);
                List<String> expected = new ArrayList<>();
                for (int i = 0; i < s.length; i++) {
                    String cause = ref.step(s[i][0], s[i][1]);
                    if (cause != null) expected.add((i + 1) + ":" + cause);
                    StepStats.Values v = step(chain, gen, params, s[i]);
                    assertEquals(cause != null, v.skipped(), "step " + (i + 1) + " skipped iff the rule saw " + cause + " (seed " + seed + ")");
                }
                List<String> got = log.poll().stream().map(e -> e.step() + ":" + e.cause()).toList();
                assertEquals(expected, got, "seed " + seed);
                assertTrue(got.containsAll(List.of("31:loss-spike", "46:grad-spike", "61:non-finite-loss", "71:non-finite-grad")), got.toString());
                GuardLog.Reading r = log.last();
                assertEquals(s.length, r.steps());
                assertEquals(expected.size(), r.keptOut());
                assertEquals(1, r.byCause().get("loss-spike"));
            }
        }
    }

    private static Map<String, double[]> hostState(List<Tensor> params, Optimizer opt) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) m.put("p" + i, params.get(i).toDoubleArray());
        for (var e : opt.stateTensors().entrySet()) m.put(e.getKey(), e.getValue().toDoubleArray());
        return m;
    }

    private static void assertSame(Map<String, double[]> want, Map<String, double[]> got, String what) {
        assertEquals(want.keySet(), got.keySet(), what);
        for (var e : want.entrySet()) assertArrayEquals(e.getValue(), got.get(e.getKey()), 0, what + ": " + e.getKey());
    }

    @Test void aSkippedStepLeavesWeightsAndMomentumBitIdentical() {
        try (Scope sc = Scope.open()) {
            List<Tensor> params = params(new Generator(5));
            SGD opt = new SGD(params, 0.05, 0.9, 0, 1e-4, false);
            try (GradientChain chain = GradientChain.of(ExplosionGuard.parse("skip"), Link.apply(opt))) {
                double[][] s = stream(5, 80);
                Generator gen = new Generator(6);
                for (int i = 0; i < s.length; i++) {
                    Map<String, double[]> before = hostState(params, opt);
                    StepStats.Values v = step(chain, gen, params, s[i]);
                    if (v.skipped()) assertSame(before, hostState(params, opt), "skipped step " + (i + 1));
                }
            }
        }
    }

    /** Every weight and momentum buffer after a rollback equals, bit for bit, what they were after the snapshot's step. */
    @Test void rollbackRestoresTheSnapshotBitForBit() {
        try (Scope sc = Scope.open()) {
            List<Tensor> params = params(new Generator(8));
            SGD opt = new SGD(params, 0.05, 0.9, 0, 0, false);
            ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("rollback"), SETTINGS);
            try (GradientChain chain = GradientChain.of(guard, Link.apply(opt))) {
                GuardLog log = new GuardLog(guard, chain.stateOf(guard));
                double[][] s = stream(8, 80);
                Generator gen = new Generator(9);
                List<Map<String, double[]>> after = new ArrayList<>();
                after.add(hostState(params, opt)); // after step 0: the start
                int rollbacks = 0;
                for (int i = 0; i < s.length; i++) {
                    StepStats.Values v = step(chain, gen, params, s[i]);
                    Map<String, double[]> now = hostState(params, opt);
                    for (GuardEvent e : log.poll()) {
                        assertTrue(v.skipped() && e.step() == i + 1, e.line());
                        long snap = Long.parseLong(e.action().replaceAll(".*rolled back to step (\\d+).*", "$1"));
                        assertTrue(snap >= i + 1 - 2L * SETTINGS.snapshotEvery() - 20 && snap < i + 1, e.line());
                        Map<String, double[]> want = new LinkedHashMap<>(after.get((int) snap));
                        for (String k : now.keySet()) want.putIfAbsent(k, new double[now.get(k).length]); // made after: zeros
                        assertSame(want, now, "rollback at step " + (i + 1) + " to " + snap);
                        rollbacks++;
                    }
                    after.add(now);
                }
                assertEquals(4, rollbacks, "the two spikes and the two non-finite steps");
                assertEquals(4, log.last().rollbacks());
                assertTrue(log.last().undone() > 0, "the rollbacks undid applied steps");
            }
        }
    }

    /** The learning-rate factor plain SGD (lr 0.1) applied at the last step: the update over lr * coefficient * g. */
    static double appliedFactor(List<Tensor> params, List<double[]> before, StepStats.Values v) {
        double dot = 0, gg = 0;
        for (int i = 0; i < params.size(); i++) {
            double[] now = params.get(i).toDoubleArray(), was = before.get(i), g = params.get(i).grad().toDoubleArray();
            for (int k = 0; k < g.length; k++) {
                dot += (was[k] - now[k]) * g[k];
                gg += g[k] * g[k];
            }
        }
        return dot / (0.1 * v.coefficient() * gg);
    }

    static List<double[]> weights(List<Tensor> params) { return params.stream().map(Tensor::toDoubleArray).toList(); }

    /**
     * Backoff alone: an event cuts the learning rate by F from its step on, a second event while it is on cuts again,
     * and every N quiet steps one cut is undone, back to the full rate; the optimizer's update is scaled (the gradient
     * is not, beyond a spike's clip to the threshold), and the host's lr is never touched.
     */
    @Test void backoffCutsTheLearningRateAndUndoesOneCutPerNQuietSteps() {
        try (Scope sc = Scope.open()) {
            List<Tensor> params = params(new Generator(3));
            SGD opt = new SGD(params, 0.1);
            ExplosionGuard guard = new ExplosionGuard(GuardPolicy.parse("backoff:0.25:5"), SETTINGS);
            try (GradientChain chain = GradientChain.of(guard, Link.apply(opt))) {
                GuardLog log = new GuardLog(guard, chain.stateOf(guard));
                double[][] s = stream(3, 80);
                s[32][0] = 40; // a second loss spike two steps after the first (step 31): the cuts compound
                Generator gen = new Generator(4);
                double[] want = new double[80];
                java.util.Arrays.fill(want, 1);
                for (int i = 30; i < 33; i++) want[i] = 0.25;  // steps 31, 32: one cut
                for (int i = 32; i < 38; i++) want[i] = 0.0625; // step 33 cuts again, held for 5 quiet steps
                for (int i = 38; i < 43; i++) want[i] = 0.25;   // one cut undone, for 5 more
                for (int i = 45; i < 51; i++) want[i] = 0.25;   // the norm spike at 46
                want[30] = 0.25;
                want[31] = 0.25;
                for (int i = 0; i < 55; i++) {
                    List<double[]> before = weights(params);
                    StepStats.Values v = step(chain, gen, params, s[i]);
                    assertFalse(v.skipped(), "step " + (i + 1) + ": backoff alone applies spiking steps");
                    assertEquals(want[i], appliedFactor(params, before, v), 1e-4 * want[i], "lr factor at step " + (i + 1));
                    if (i == 45) {
                        double clippedNorm = v.coefficient() * v.norm();
                        assertTrue(v.norm() > 29 && clippedNorm > 1 && clippedNorm < 2,
                                "the norm spike (30) is clipped to about the usual norm (1 + 6 std): " + clippedNorm);
                    } else {
                        assertEquals(1.0, v.coefficient(), 1e-7, "step " + (i + 1) + ": only spikes are clipped");
                    }
                }
                List<GuardEvent> events = log.poll();
                assertEquals(List.of(31L, 33L, 46L), events.stream().map(GuardEvent::step).toList());
                assertTrue(events.getFirst().action().contains("lr x0.25"), events.getFirst().line());
                assertEquals(0.1, opt.paramGroups().getFirst().lr(), 0, "the host's lr is never touched");
                assertEquals(1.0, log.last().lrFactor(), "the full rate is back");
                assertEquals(3, log.last().clipped());
            }
        }
    }

    /** The first 40 steps, a checkpoint, a fresh chain loaded from it: the last 60 steps decide exactly alike. */
    @Test void stateRoundTripsThroughACheckpoint() throws Exception {
        long seed = System.nanoTime();
        System.out.println("guard checkpoint seed " + seed);
        double[][] s = stream(seed, 100);
        Path file = Files.createTempDirectory("guard").resolve("c.safetensors");
        try (Scope sc = Scope.open()) {
            List<Tensor> params = params(new Generator(seed));
            Map<String, Tensor> model = new LinkedHashMap<>();
            for (int i = 0; i < params.size(); i++) model.put("p" + i, params.get(i));
            SGD opt = new SGD(params, 0.01, 0.9, 0, 0, false);
            ExplosionGuard guard = ExplosionGuard.parse("skip");
            GradientChain chain = GradientChain.of(guard, Link.apply(opt));
            Generator gen = new Generator(seed + 1);
            List<Boolean> skipped = new ArrayList<>();
            Map<String, double[]> saved = null;
            for (int i = 0; i < s.length; i++) {
                skipped.add(step(chain, gen, params, s[i]).skipped());
                if (i == 39) {
                    Checkpoint.save(file, model, opt, 40, null, chain.stateDict());
                    saved = hostState(params, opt);
                }
            }
            Map<String, double[]> end = hostState(params, opt);
            GuardLog.Reading whole = GuardLog.read(chain.stateOf(guard));
            ExplosionGuard guard2 = ExplosionGuard.parse("skip");
            SGD opt2 = new SGD(params, 0.01, 0.9, 0, 0, false);
            GradientChain resumed = GradientChain.of(guard2, Link.apply(opt2));
            Checkpoint.load(file, model, opt2, null, resumed.stateDict());
            assertSame(saved, hostState(params, opt2), "the checkpoint's weights and momentum");
            Generator gen2 = new Generator(seed + 1);
            for (int i = 0; i < s.length; i++) {
                if (i < 40) {
                    setGrads(gen2, params, s[i][1]); // the same random draws
                    continue;
                }
                assertEquals(skipped.get(i), step(resumed, gen2, params, s[i]).skipped(), "step " + (i + 1) + " (seed " + seed + ")");
            }
            assertSame(end, hostState(params, opt2), "the resumed run ends bit-identical");
            GuardLog.Reading again = GuardLog.read(resumed.stateOf(guard2));
            assertEquals(whole.events(), again.events());
            assertEquals(whole.byCause(), again.byCause());
            assertEquals(whole.steps(), again.steps());
            chain.close();
            resumed.close();
        }
    }
}
