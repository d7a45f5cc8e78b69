package dev.ballast.bench.step;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.io.SafeTensors;
import dev.ballast.stability.clip.ClipGrad;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Replays one full training step recorded by PyTorch (llm.c's test_gpt2 idea) for every model of
 * {@code ballast bench step}, on every backend: from PyTorch's weights and batch, Ballast's forward must give the
 * loss, backward every gradient, clipping the clipped gradients and the global norm, and the benchmark's own fused
 * clip-and-update step the updated weights. Speed work can therefore never change the numbers silently.
 *
 * <p>Tolerance: loss, norm, gradients and clipped gradients per tensor {@code max |ballast - torch| <= REL * max |torch|}
 * (float32 sums in another order, through up to 50 recurrent steps or 50 layers; measured errors are near 1e-6);
 * updated weights as {@link #checkUpdate} says.
 */
class StepReplayTest {
    /** Largest error of loss, gradients and clipped gradients, relative to the tensor's largest magnitude. */
    static final double REL = 1e-4;

    @TestFactory
    Stream<DynamicTest> replaysEveryCaseOnEveryBackend() throws IOException, URISyntaxException {
        Path dir = Path.of(StepReplayTest.class.getResource("/step-replay").toURI());
        List<Path> cases;
        try (Stream<Path> s = Files.list(dir)) {
            cases = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertEquals(7, cases.size(), "replay cases in " + dir);
        List<DynamicTest> tests = new ArrayList<>();
        for (Device.Status backend : Device.statuses()) {
            for (Path c : cases) {
                String name = c.getFileName().toString().replace(".safetensors", "");
                tests.add(DynamicTest.dynamicTest(backend.name() + ": " + name, () -> {
                    Assumptions.assumeTrue(backend.available(), () -> backend.name() + " unavailable: " + backend.detail());
                    replay(Device.named(backend.name()), name, c);
                }));
            }
        }
        return tests.stream();
    }

    static void replay(Device device, String name, Path file) throws IOException {
        try (Scope outer = Scope.open(); SafeTensors.Contents data = SafeTensors.read(file, device)) {
            StepSpec spec = StepSpec.fromJson(name, data.metadata().get("spec"));
            Map<String, Tensor> t = data.tensors();
            Map<String, Tensor> weights = prefixed(t, "weight.");
            try (StepModel model = StepModel.of(spec, device, weights, t.get("x"), t.get("y"))) {
                Map<String, Tensor> params = model.module().namedParameters();
                assertEquals(weights.keySet(), params.keySet(), name + ": parameter names");
                Tensor loss = model.loss();
                check(name, "loss", t.get("loss").reshape(), loss, REL);
                loss.backward();
                for (String p : params.keySet()) check(name, "grad." + p, t.get("grad." + p), params.get(p).grad(), REL);
                double norm = model.clipAndUpdate().norm();
                double expectedNorm = t.get("norm").item();
                assertTrue(Math.abs(norm - expectedNorm) <= REL * expectedNorm,
                        name + ": global norm " + norm + ", torch " + expectedNorm);
                double lr = spec.number("lr");
                for (String p : params.keySet()) checkUpdate(name, p, t.get("updated." + p), params.get(p), t.get("clipped." + p), lr);
                // the fused step leaves the gradients as they were; clipping them now must give PyTorch's clipped values
                ClipGrad.clipGradNorm(List.copyOf(params.values()), StepModels.MAX_NORM, 2.0);
                for (String p : params.keySet()) check(name, "clipped." + p, t.get("clipped." + p), params.get(p).grad(), REL);
            }
        }
    }

    static Map<String, Tensor> prefixed(Map<String, Tensor> all, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        all.forEach((k, v) -> { if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v); });
        return out;
    }

    static void check(String model, String what, Tensor expected, Tensor actual, double rel) {
        assertTrue(actual != null, model + " " + what + ": missing");
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        assertEquals(e.length, a.length, model + " " + what + ": element count");
        double scale = 0, worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            double d = Math.abs(a[i] - e[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        double err = scale == 0 ? worst : worst / scale;
        if (Boolean.getBoolean("ballast.replay.verbose"))
            System.out.printf(Locale.ROOT, "%s %s: max rel err %.2e%n", model, what, err);
        if (!(err <= rel))
            throw new AssertionError(String.format(Locale.ROOT,
                    "%s %s: max |ballast - torch| %.3e is %.2e of max |torch| %.3e, allowed %.1e (worst at [%d]: torch %.9g, ballast %.9g)",
                    model, what, worst, err, scale, rel, at, e[at], a[at]));
    }

    /**
     * Updated weights, elementwise within {@code 1e-6 + 1e-5 |w| + lr * min(2, 2 gradTol / |g|)}, where g is PyTorch's
     * clipped gradient and gradTol the gradient tolerance ({@link #REL} of its largest magnitude): a first Adam step
     * moves a weight by lr * g / (|g| + eps), so a gradient known to within gradTol fixes the update to within
     * lr * gradTol / |g|, and a gradient inside the tolerance (a mathematically zero one, such as the key bias's of
     * attention) may move its weight by up to lr either way. An SGD step's error, lr * gradTol, is inside the bound.
     */
    static void checkUpdate(String model, String param, Tensor expected, Tensor actual, Tensor clipped, double lr) {
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray(), g = clipped.toDoubleArray();
        double gradTol = 0;
        for (double v : g) gradTol = Math.max(gradTol, Math.abs(v));
        gradTol *= REL;
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(a[i] - e[i]);
            double tol = 1e-6 + 1e-5 * Math.abs(e[i]) + lr * Math.min(2, 2 * gradTol / Math.max(Math.abs(g[i]), 1e-30));
            worst = Math.max(worst, d / tol);
            if (!(d <= tol))
                throw new AssertionError(String.format(Locale.ROOT,
                        "%s updated.%s[%d]: torch %.9g, ballast %.9g (|diff| %.3e > %.3e; clipped gradient %.3e)",
                        model, param, i, e[i], a[i], d, tol, g[i]));
        }
        if (Boolean.getBoolean("ballast.replay.verbose"))
            System.out.printf(Locale.ROOT, "%s updated.%s: worst diff / tolerance %.2f%n", model, param, worst);
    }
}
