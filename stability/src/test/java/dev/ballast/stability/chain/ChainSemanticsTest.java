package dev.ballast.stability.chain;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.scale.GradScaler;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A chain means sequential composition: every order of links gives what applying them one by one gives, checked
 * against a float64 evaluation of the same links in the same order (SGD at lr 1, so the update is the transformed
 * gradient), on random chains and random gradients; and a nested chain equals the flat one bit for bit.
 */
class ChainSemanticsTest {
    static final Device CPU = Device.cpu();

    /** The examples: gradient [3, 4], SGD at lr 1, so the update equals the transformed gradient. */
    @Test void eachOrderMeansWhatItSays() {
        assertArrayEquals(new double[]{0.6, 0.8}, update(new double[]{3, 4}, Link.clipByGlobalNorm(1), Link.clipByValue(2)), 1e-6);
        double r = 1 / Math.sqrt(2);
        assertArrayEquals(new double[]{r, r}, update(new double[]{3, 4}, Link.clipByValue(2), Link.clipByGlobalNorm(1)), 1e-6);
        assertArrayEquals(new double[]{0.6, 0.8}, update(new double[]{3, 4}, Link.clipByGlobalNorm(1), Link.clipByGlobalNorm(10)), 1e-6,
                "the first clip alone gives norm 1; the looser second one changes nothing");
        assertArrayEquals(new double[]{0.6, 0.8}, update(new double[]{3, 4}, Link.clipByGlobalNorm(10), Link.clipByGlobalNorm(1)), 1e-6);
        try (GradScaler scaler = new GradScaler(CPU, 65536, 2, 0.5, 2000)) {
            double[] got = update(new double[]{3 * 65536., 4 * 65536.}, Link.clipByGlobalNorm(1), Link.unscale(scaler));
            assertArrayEquals(new double[]{0.6 / 65536, 0.8 / 65536}, got, 1e-11, "clip the scaled gradients, then divide");
        }
        try (GradScaler scaler = new GradScaler(CPU, 65536, 2, 0.5, 2000)) {
            assertArrayEquals(new double[]{0.6, 0.8}, update(new double[]{3 * 65536., 4 * 65536.}, Link.unscale(scaler), Link.clipByGlobalNorm(1)), 1e-6);
        }
    }

    /** Two norm clips of the same type equal the tighter one, whatever their order. */
    @Test void twoNormClipsEqualTheTighterOne() {
        long seed = System.nanoTime();
        System.out.println("twoNormClipsEqualTheTighterOne seed " + seed);
        Random rnd = new Random(seed);
        for (int trial = 0; trial < 20; trial++) {
            double[] g = new double[7];
            for (int i = 0; i < g.length; i++) g[i] = rnd.nextGaussian() * 5;
            double a = 0.1 + rnd.nextDouble() * 10, b = 0.1 + rnd.nextDouble() * 10;
            double p = new double[]{1, 2, Double.POSITIVE_INFINITY}[rnd.nextInt(3)];
            double[] both = update(g, Link.clipByGlobalNorm(a, p), Link.clipByGlobalNorm(b, p));
            double[] tighter = update(g, Link.clipByGlobalNorm(Math.min(a, b), p));
            assertArrayEquals(tighter, both, 1e-5, "seed " + seed + " trial " + trial + ": clip " + a + " then " + b + ", norm " + p);
        }
    }

    /** Random chains of every built-in link against the same links evaluated one by one in float64. */
    @Test void randomChainsEqualSequentialFloat64Evaluation() {
        long seed = System.nanoTime();
        System.out.println("randomChainsEqualSequentialFloat64Evaluation seed " + seed);
        Random rnd = new Random(seed);
        for (int trial = 0; trial < 40; trial++) {
            long[][] shapes = {{4, 3}, {4}, {2, 2, 3}};
            List<Oracle.Op> ops = Oracle.randomOps(rnd, 1 + rnd.nextInt(5));
            double gscale = new double[]{0.01, 1, 30, 1000}[rnd.nextInt(4)];
            double[][] w = new double[shapes.length][], g = new double[shapes.length][];
            for (int i = 0; i < shapes.length; i++) {
                int n = (int) dev.ballast.engine.Shape.numel(shapes[i]);
                w[i] = new double[n];
                g[i] = new double[n];
                for (int k = 0; k < n; k++) {
                    w[i][k] = (float) rnd.nextGaussian();
                    g[i][k] = (float) (rnd.nextGaussian() * gscale);
                }
            }
            if (rnd.nextInt(4) == 0) g[rnd.nextInt(3)][0] = new double[]{Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}[rnd.nextInt(3)];
            double[][] expected = Oracle.run(ops, shapes, w, g);
            String what = "seed " + seed + " trial " + trial + " " + ops;
            try (Scope s = Scope.open()) {
                List<Tensor> params = new ArrayList<>();
                for (int i = 0; i < shapes.length; i++) {
                    Tensor p = Tensor.fromArray(CPU, DType.F32, w[i], shapes[i]).requiresGrad(true);
                    p.setGrad(Tensor.fromArray(CPU, DType.F32, g[i], shapes[i]));
                    params.add(p);
                }
                try (SGD sgd = new SGD(params, 1.0)) {
                    List<Link> links = new ArrayList<>();
                    for (Oracle.Op op : ops) links.add(op.link());
                    links.add(Link.apply(sgd));
                    try (GradientChain chain = GradientChain.of(links)) {
                        boolean skipped = chain.step().read().skipped();
                        assertEquals(expected == null, skipped, what + ": skipped");
                    }
                }
                for (int i = 0; i < shapes.length; i++) {
                    double[] got = params.get(i).toDoubleArray(), want = expected == null ? w[i] : expected[i];
                    for (int k = 0; k < got.length; k++) {
                        if (expected == null) assertEquals(want[k], got[k], 0.0, what + ": a skipped step changes nothing");
                        else if (!Double.isFinite(want[k])) assertEquals(want[k], got[k], what + ": param " + i + "[" + k + "]");
                        else assertEquals(want[k], got[k], 1e-6 + 2e-5 * Math.abs(want[k]) + 2e-5 * Math.abs(want[k] - w[i][k]),
                                what + ": param " + i + "[" + k + "]");
                    }
                }
            }
        }
    }

    /** A chain nested anywhere in another equals the flat chain, bit for bit, over several steps. */
    @Test void nestingEqualsTheFlatChain() {
        long seed = System.nanoTime();
        System.out.println("nestingEqualsTheFlatChain seed " + seed);
        Random rnd = new Random(seed);
        for (int trial = 0; trial < 15; trial++) {
            List<Oracle.Op> ops = Oracle.randomOps(rnd, 2 + rnd.nextInt(4));
            int from = rnd.nextInt(ops.size()), to = from + 1 + rnd.nextInt(ops.size() - from);
            long gseed = rnd.nextLong();
            double[][] flat = runSteps(ops, -1, -1, gseed), nested = runSteps(ops, from, to, gseed);
            for (int i = 0; i < flat.length; i++)
                assertArrayEquals(flat[i], nested[i], 0.0, "seed " + seed + " trial " + trial + " " + ops + " nested [" + from + ", " + to + ")");
        }
    }

    private static double[][] runSteps(List<Oracle.Op> ops, int from, int to, long gseed) {
        Random rnd = new Random(gseed);
        long[][] shapes = {{5, 3}, {5}};
        try (Scope s = Scope.open()) {
            List<Tensor> params = new ArrayList<>();
            for (long[] shape : shapes) params.add(Tensor.fromArray(CPU, DType.F32, gaussian(rnd, shape, 1), shape).requiresGrad(true));
            try (var adam = new dev.ballast.engine.optim.AdamW(params, 1e-2)) {
                List<Link> links = new ArrayList<>();
                for (Oracle.Op op : ops) links.add(op.link());
                if (from >= 0) {
                    Link inner = GradientChain.of(new ArrayList<>(links.subList(from, to)));
                    links.subList(from, to).clear();
                    links.add(from, inner);
                }
                links.add(Link.apply(adam));
                try (GradientChain chain = GradientChain.of(links)) {
                    for (int step = 0; step < 3; step++) {
                        for (int i = 0; i < shapes.length; i++) params.get(i).setGrad(Tensor.fromArray(CPU, DType.F32, gaussian(rnd, shapes[i], 10), shapes[i]));
                        try (Scope st = Scope.open()) {
                            chain.step();
                        }
                    }
                }
            }
            double[][] out = new double[shapes.length][];
            for (int i = 0; i < shapes.length; i++) out[i] = params.get(i).toDoubleArray();
            return out;
        }
    }

    static double[] gaussian(Random rnd, long[] shape, double scale) {
        double[] v = new double[(int) dev.ballast.engine.Shape.numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return v;
    }

    /** One SGD step at lr 1 on a single weight (starting at 0) through {@code links}; returns minus the update. */
    static double[] update(double[] grad, Link... links) {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(CPU, DType.F32, grad.length).requiresGrad(true);
            w.setGrad(Tensor.fromArray(CPU, DType.F32, grad, grad.length));
            try (SGD sgd = new SGD(List.of(w), 1.0)) {
                List<Link> all = new ArrayList<>(List.of(links));
                all.add(Link.apply(sgd));
                try (GradientChain chain = GradientChain.of(all)) {
                    chain.step();
                }
            }
            double[] v = w.toDoubleArray();
            for (int i = 0; i < v.length; i++) v[i] = -v[i];
            return v;
        }
    }
}
