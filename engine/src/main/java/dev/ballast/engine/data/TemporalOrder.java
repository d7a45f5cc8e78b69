package dev.ballast.engine.data;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;

/**
 * The temporal-order problem (Hochreiter and Schmidhuber 1997, experiment 6a): a sequence starts with B and ends
 * with E; every other step is a random distractor from {a, b, c, d} except two relevant steps, one at a random
 * position in a first window and one in a second window, each holding X or Y. The class is the order of the two
 * relevant symbols: XX = 0, XY = 1, YX = 2, YY = 3. Inputs are one-hot over the 8 symbols
 * ({@link #SYMBOLS}); all sequences of a dataset have the same length, so they batch without padding.
 */
public final class TemporalOrder {
    /** Symbol order of the one-hot channels. */
    public static final String SYMBOLS = "abcdXYBE";
    /** Number of symbols (input channels). */
    public static final int NUM_SYMBOLS = 8;
    /** Number of classes. */
    public static final int NUM_CLASSES = 4;
    private static final int X = 4, Y = 5, B = 6, E = 7;

    private TemporalOrder() {}

    /**
     * {@code n} sequences of {@code length} with the paper's windows scaled to the length: the first relevant symbol
     * in {@code [length/10, 2*length/10]}, the second in {@code [length/2, 6*length/10]} (10..20 and 50..60 for 100).
     */
    public static Dataset generate(Device device, int n, int length, long seed) {
        return generate(device, n, length, length / 10, 2 * length / 10, length / 2, 6 * length / 10, seed);
    }

    /**
     * {@code n} sequences: inputs {@code [n, length, 8]} F32 one-hot, targets {@code [n]} I64 class indices. The
     * relevant positions lie in the inclusive windows {@code [first0, first1]} and {@code [second0, second1]}, which
     * must not touch the B and E steps and must not overlap.
     */
    public static Dataset generate(Device device, int n, int length, int first0, int first1, int second0, int second1, long seed) {
        if (n <= 0) throw new IllegalArgumentException("temporal order: n must be > 0, got " + n);
        if (!(1 <= first0 && first0 <= first1 && first1 < second0 && second0 <= second1 && second1 <= length - 2))
            throw new IllegalArgumentException("temporal order: need 1 <= first0 <= first1 < second0 <= second1 <= length-2, got windows ["
                    + first0 + ", " + first1 + "] and [" + second0 + ", " + second1 + "] for length " + length);
        Rng rng = new Rng(seed);
        double[] x = new double[Math.multiplyExact(Math.multiplyExact(n, length), NUM_SYMBOLS)];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) {
            int[] seq = sequence(rng, length, first0, first1, second0, second1);
            int a = -1, b = -1;
            for (int t = 0; t < length; t++) {
                x[(i * length + t) * NUM_SYMBOLS + seq[t]] = 1;
                if (seq[t] == X || seq[t] == Y) {
                    if (a < 0) a = seq[t];
                    else b = seq[t];
                }
            }
            y[i] = 2L * (a == Y ? 1 : 0) + (b == Y ? 1 : 0);
        }
        return new Dataset(Tensor.fromArray(device, DType.F32, x, n, length, NUM_SYMBOLS), Tensor.fromArray(device, y, n));
    }

    private static int[] sequence(Rng rng, int length, int f0, int f1, int s0, int s1) {
        int[] seq = new int[length];
        seq[0] = B;
        seq[length - 1] = E;
        for (int t = 1; t < length - 1; t++) seq[t] = rng.nextInt(4);
        seq[rng.between(f0, f1)] = rng.nextInt(2) == 0 ? X : Y;
        seq[rng.between(s0, s1)] = rng.nextInt(2) == 0 ? X : Y;
        return seq;
    }
}
