package dev.ballast.engine.data;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;

/**
 * The adding problem (Hochreiter and Schmidhuber 1997, in the form of Le, Jaitly and Hinton 2015): each example
 * is a sequence of {@code T} steps with two channels, a value drawn uniformly from [0, 1) and a marker that is 1 at
 * exactly two steps, one in the first half ({@code [0, T/2)}) and one in the second ({@code [T/2, T)}), and 0
 * elsewhere. The target is the sum of the two marked values. Predicting 1 always gives a mean squared error of
 * about 1/6, the baseline a model must beat.
 */
public final class AddingProblem {
    private AddingProblem() {}

    /** {@code n} examples: inputs {@code [n, T, 2]} (value, marker) and targets {@code [n, 1]}, F32, seeded. */
    public static Dataset generate(Device device, int n, int length, long seed) {
        if (n <= 0) throw new IllegalArgumentException("adding problem: n must be > 0, got " + n);
        if (length < 2) throw new IllegalArgumentException("adding problem: sequence length must be >= 2, got " + length);
        Rng rng = new Rng(seed);
        double[] x = new double[Math.multiplyExact(Math.multiplyExact(n, length), 2)];
        double[] y = new double[n];
        int half = length / 2;
        for (int i = 0; i < n; i++) {
            int base = i * length * 2;
            for (int t = 0; t < length; t++) x[base + 2 * t] = rng.uniform();
            int a = rng.nextInt(half);
            int b = half + rng.nextInt(length - half);
            x[base + 2 * a + 1] = 1;
            x[base + 2 * b + 1] = 1;
            y[i] = x[base + 2 * a] + x[base + 2 * b];
        }
        return new Dataset(Tensor.fromArray(device, DType.F32, x, n, length, 2), Tensor.fromArray(device, DType.F32, y, n, 1));
    }
}
