package dev.ballast.engine.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.LrSchedule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * {@code stepAsync(coefficient, skip, lrFactor)} is torch's step with every group's lr lowered to {@code lr * factor}:
 * bit for bit the run of the same optimizer whose group lr is set to {@code lr * factor} before each step (weights,
 * moments or momentum buffers, step counts, working copies), for SGD, SGD with momentum and decay, Nesterov, Adam
 * with L2 decay and AdamW (decoupled decay scaled with the lr), on the fused path (the factor read inside the fused
 * kernel) and the composed one, with and without F16/BF16 working copies; with a schedule the factor multiplies the
 * scheduled rate. A factor of 1 is the plain step bit for bit, and a skipped step with a factor changes nothing.
 */
class LrFactorTest {
    static final Device CPU = Device.cpu();
    /** The factor of each step of a run: cuts, compounding, and back to 1 (as the guard's backoff moves it). */
    static final double[] FACTORS = {0.3, 1, 0.5, 0.15, 1, 0.7, 0.25};

    static List<Tensor> params(long seed, boolean composed) {
        Generator gen = new Generator(seed);
        List<Tensor> ps = new ArrayList<>(List.of(Tensor.randn(gen, CPU, 37, 29).requiresGrad(true), Tensor.randn(gen, CPU, 29).requiresGrad(true)));
        if (composed) ps.add(Tensor.zeros(CPU, DType.F32, 2).requiresGrad(true)); // no gradient: the composed path
        return ps;
    }

    static void grads(List<Tensor> ps, Generator gen) {
        for (int i = 0; i < 2; i++) ps.get(i).setGrad(Tensor.randn(gen, CPU, ps.get(i).shape()));
    }

    /** A run of {@code FACTORS.length} steps; {@code step} takes the optimizer and the step's factor. */
    interface Stepper { void step(Optimizer opt, double factor); }

    static Optimizer run(BiFunction<List<Tensor>, Double, Optimizer> make, List<Tensor> ps, long seed, double lr,
                         DType copies, LrSchedule schedule, Stepper stepper) {
        Optimizer opt = make.apply(ps, lr);
        if (copies != null) opt.keepWorkingCopies(copies);
        if (schedule != null) opt.setSchedule(schedule);
        Generator gen = new Generator(seed + 1);
        for (double f : FACTORS) {
            grads(ps, gen);
            stepper.step(opt, f);
        }
        return opt;
    }

    static void assertSameRun(String what, long seed, List<Tensor> want, Optimizer wantOpt, List<Tensor> got, Optimizer gotOpt, DType copies) {
        String tag = what + " (seed " + seed + ")";
        for (int i = 0; i < want.size(); i++) {
            assertArrayEquals(want.get(i).toFloatArray(), got.get(i).toFloatArray(), tag + ": param " + i);
            if (copies != null) {
                try (Autocast.Guard ac = Autocast.enable(copies); GradMode.Guard ng = GradMode.noGrad()) {
                    assertArrayEquals(Autocast.weight(want.get(i)).toFloatArray(), Autocast.weight(got.get(i)).toFloatArray(),
                            tag + ": working copy of param " + i);
                    assertArrayEquals(got.get(i).to(copies).toFloatArray(), Autocast.weight(got.get(i)).toFloatArray(),
                            tag + ": working copy of param " + i + " is the rounded weight");
                }
            }
        }
        Map<String, Tensor> sw = wantOpt.stateDict(), sg = gotOpt.stateDict();
        assertEquals(sw.keySet(), sg.keySet(), tag);
        for (var e : sw.entrySet())
            assertArrayEquals(e.getValue().to(DType.F64).toDoubleArray(), sg.get(e.getKey()).to(DType.F64).toDoubleArray(), tag + ": " + e.getKey());
        assertEquals(wantOpt.stepCount(), gotOpt.stepCount(), tag + ": steps");
    }

    /**
     * The factor against torch's way of lowering the lr (the group's lr set to lr * f before each step), and a factor
     * of 1 against no factor at all, both bit for bit.
     */
    static void compare(BiFunction<List<Tensor>, Double, Optimizer> make, boolean composed, DType copies, String what) {
        long seed = System.nanoTime();
        System.out.println("LrFactorTest " + what + " seed " + seed);
        double lr = 0.05;
        try (Scope s = Scope.open()) {
            List<Tensor> a = params(seed, composed), b = params(seed, composed), c = params(seed, composed), d = params(seed, composed);
            Optimizer cut = run(make, a, seed, lr, copies, null, (o, f) -> o.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, f)));
            Optimizer lowered = run(make, b, seed, lr, copies, null, (o, f) -> {
                for (ParamGroup g : o.paramGroups()) g.setLr(lr * (float) f); // the F32 factor the kernel reads
                o.stepAsync(null, null);
            });
            assertSameRun(what + ": factor vs lr * factor", seed, b, lowered, a, cut, copies);
            Optimizer one = run(make, c, seed, lr, copies, null, (o, f) -> o.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, 1)));
            Optimizer plain = run(make, d, seed, lr, copies, null, (o, f) -> o.stepAsync(null, null));
            assertSameRun(what + ": factor 1 vs no factor", seed, d, plain, c, one, copies);
            assertNotEquals(a.getFirst().toFloatArray()[0], d.getFirst().toFloatArray()[0], what + ": the factor changed the run");
            for (Optimizer o : List.of(cut, lowered, one, plain)) o.close();
        }
    }

    @Test void sgd() {
        compare((p, lr) -> new SGD(p, lr), false, null, "SGD fused");
        compare((p, lr) -> new SGD(p, lr), true, null, "SGD composed");
        compare((p, lr) -> new SGD(p, lr), false, DType.BF16, "SGD fused, bf16 copies");
    }

    @Test void sgdWithMomentumAndDecay() {
        compare((p, lr) -> new SGD(p, lr, 0.9, 0.1, 1e-2, false), false, null, "SGD momentum fused");
        compare((p, lr) -> new SGD(p, lr, 0.9, 0.1, 1e-2, false), true, null, "SGD momentum composed");
        compare((p, lr) -> new SGD(p, lr, 0.9, 0, 1e-2, true), false, DType.F16, "SGD Nesterov fused, f16 copies");
        compare((p, lr) -> new SGD(p, lr, 0.9, 0, 1e-2, true), true, DType.BF16, "SGD Nesterov composed, bf16 copies");
    }

    @Test void adam() {
        compare((p, lr) -> new Adam(p, lr, 0.9, 0.999, 1e-8, 1e-2), false, null, "Adam fused");
        compare((p, lr) -> new Adam(p, lr, 0.9, 0.999, 1e-8, 1e-2), true, null, "Adam composed");
        compare((p, lr) -> new Adam(p, lr, 0.9, 0.999, 1e-8, 1e-2), false, DType.BF16, "Adam fused, bf16 copies");
    }

    @Test void adamW() {
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1), false, null, "AdamW fused");
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1), true, null, "AdamW composed");
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1), false, DType.F16, "AdamW fused, f16 copies");
        compare((p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1), true, DType.F16, "AdamW composed, f16 copies");
    }

    /**
     * With a schedule (warm-up, then cosine) the factor multiplies the scheduled rate: a run with a constant factor
     * 1/4 (a power of two, so the products are exact either way round) is the run of the optimizer built with lr / 4.
     */
    @Test void factorScalesTheScheduledRate() {
        long seed = System.nanoTime();
        System.out.println("LrFactorTest schedule seed " + seed);
        LrSchedule schedule = LrSchedule.cosine(5, 0).withWarmup(2);
        for (boolean composed : new boolean[]{false, true}) {
            try (Scope s = Scope.open()) {
                BiFunction<List<Tensor>, Double, Optimizer> make = (p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1);
                List<Tensor> a = params(seed, composed), b = params(seed, composed);
                Optimizer cut = run(make, a, seed, 0.05, null, schedule, (o, f) -> o.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, 0.25)));
                Optimizer lowered = run(make, b, seed, 0.05 * 0.25, null, schedule, (o, f) -> o.stepAsync(null, null));
                assertSameRun("AdamW warm-up + cosine, factor 1/4" + (composed ? ", composed" : ""), seed, b, lowered, a, cut, null);
            }
        }
    }

    /** A skipped step with a factor (and a coefficient) leaves weights, state, counts and working copies as they were. */
    @Test void skippedStepWithAFactorChangesNothing() {
        long seed = System.nanoTime();
        System.out.println("LrFactorTest skip seed " + seed);
        for (boolean composed : new boolean[]{false, true}) {
            for (BiFunction<List<Tensor>, Double, Optimizer> make : List.<BiFunction<List<Tensor>, Double, Optimizer>>of(
                    (p, lr) -> new SGD(p, lr, 0.9, 0, 1e-2, false), (p, lr) -> new AdamW(p, lr, 0.9, 0.999, 1e-8, 1e-1))) {
                try (Scope s = Scope.open()) {
                    List<Tensor> a = params(seed, composed), b = params(seed, composed);
                    Optimizer opt = run(make, a, seed, 0.05, DType.BF16, null, (o, f) -> o.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, f)));
                    Optimizer twin = run(make, b, seed, 0.05, DType.BF16, null, (o, f) -> o.stepAsync(null, null, Tensor.scalar(CPU, DType.F32, f)));
                    grads(a, new Generator(seed + 7));
                    opt.stepAsync(Tensor.scalar(CPU, DType.F32, 0.5), Tensor.scalar(CPU, DType.F32, 1), Tensor.scalar(CPU, DType.F32, 0.3));
                    assertSameRun(opt.getClass().getSimpleName() + " skipped step" + (composed ? ", composed" : ""), seed, b, twin, a, opt, DType.BF16);
                }
            }
        }
    }

    @Test void aFactorThatIsNotZeroDimensionalIsRefused() {
        try (Scope s = Scope.open()) {
            List<Tensor> ps = params(1, false);
            grads(ps, new Generator(2));
            SGD sgd = new SGD(ps, 0.1);
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> sgd.stepAsync(null, null, Tensor.ones(CPU, DType.F32, 2)));
            assertEquals("step: lrFactor must be a 0-d tensor, got shape [2]", e.getMessage());
        }
    }
}
