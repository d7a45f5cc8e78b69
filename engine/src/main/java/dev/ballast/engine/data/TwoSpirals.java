package dev.ballast.engine.data;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;

/**
 * Two interleaved spirals in the plane (Lang and Witbrock 1988), a classic hard 2-class problem: class 0 points
 * lie at {@code r (cos a, sin a)} with {@code a = r * turns * 2 pi} and {@code r = sqrt(u)} in [0, 1), class 1 is the
 * same spiral rotated by pi; Gaussian noise of standard deviation {@code noise} is added to both coordinates.
 */
public final class TwoSpirals {
    private TwoSpirals() {}

    /** {@code perClass} points of each class (1.5 turns): inputs {@code [2*perClass, 2]} F32, targets {@code [2*perClass]} I64, interleaved. */
    public static Dataset generate(Device device, int perClass, double noise, long seed) {
        return generate(device, perClass, 1.5, noise, seed);
    }

    public static Dataset generate(Device device, int perClass, double turns, double noise, long seed) {
        if (perClass <= 0) throw new IllegalArgumentException("two spirals: perClass must be > 0, got " + perClass);
        if (!(turns > 0) || Double.isInfinite(turns)) throw new IllegalArgumentException("two spirals: turns must be finite and > 0, got " + turns);
        if (!(noise >= 0) || Double.isInfinite(noise)) throw new IllegalArgumentException("two spirals: noise must be finite and >= 0, got " + noise);
        Rng rng = new Rng(seed);
        int n = 2 * perClass;
        double[] x = new double[2 * n];
        long[] y = new long[n];
        for (int i = 0; i < perClass; i++) {
            double r = Math.sqrt(rng.uniform());
            double a = r * turns * 2 * Math.PI;
            for (int c = 0; c < 2; c++) {
                int k = 2 * i + c;
                double sign = c == 0 ? 1 : -1; // rotation by pi
                x[2 * k] = sign * r * Math.cos(a) + noise * rng.normal();
                x[2 * k + 1] = sign * r * Math.sin(a) + noise * rng.normal();
                y[k] = c;
            }
        }
        return new Dataset(Tensor.fromArray(device, DType.F32, x, n, 2), Tensor.fromArray(device, y, n));
    }
}
