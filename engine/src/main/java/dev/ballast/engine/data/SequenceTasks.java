package dev.ballast.engine.data;

import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Losses;
import java.util.Arrays;

/**
 * Sequence-to-sequence token tasks set up for a decoder-only (causal) model, next-token style. An example draws
 * {@code length} tokens uniformly from {@code [0, vocab)} (repeats allowed); its target sequence is the same tokens
 * ({@link Kind#COPY}) or the tokens in ascending order ({@link Kind#SORT}). The full sequence is
 * {@code [x_1 .. x_L, SEP, y_1 .. y_L]} with {@code SEP = vocab}; the model reads its first {@code 2L} tokens
 * (inputs {@code [n, 2L]} I64 in {@code [0, vocab]}) and at position {@code i} predicts token {@code i + 1}. Only
 * the answer half is scored: targets {@code [n, 2L]} I64 hold {@code y_k} at position {@code L + k - 1}
 * ({@code k = 1..L}) and {@link Losses#DEFAULT_IGNORE_INDEX} (-100) at every position {@code < L}, so cross-entropy
 * with that ignore index trains on the answer only. Position {@code L}
 * (SEP) predicts {@code y_1}. Predictions are teacher-forced: each answer token is predicted from the true
 * earlier ones.
 */
public final class SequenceTasks {
    /** Which answer the model must produce. */
    public enum Kind { COPY, SORT }

    private SequenceTasks() {}

    /** The separator token of a vocabulary of {@code vocab} symbols (the model's input vocabulary is {@code vocab + 1}). */
    public static int separator(int vocab) { return vocab; }

    /** {@code n} examples of {@code kind} over sequences of {@code length} tokens from {@code vocab} symbols, seeded. */
    public static Dataset generate(Device device, Kind kind, int n, int length, int vocab, long seed) {
        if (n <= 0) throw new IllegalArgumentException(name(kind) + ": n must be > 0, got " + n);
        if (length <= 0) throw new IllegalArgumentException(name(kind) + ": sequence length must be > 0, got " + length);
        if (vocab < 2) throw new IllegalArgumentException(name(kind) + ": vocab must be >= 2, got " + vocab);
        Rng rng = new Rng(seed);
        int t = 2 * length;
        long[] in = new long[Math.multiplyExact(n, t)];
        long[] tg = new long[in.length];
        int[] x = new int[length];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < length; k++) x[k] = rng.nextInt(vocab);
            int[] y = x.clone();
            if (kind == Kind.SORT) Arrays.sort(y);
            int base = i * t;
            for (int k = 0; k < length; k++) in[base + k] = x[k];
            in[base + length] = separator(vocab);
            for (int k = 0; k < length - 1; k++) in[base + length + 1 + k] = y[k];
            for (int p = 0; p < length; p++) tg[base + p] = Losses.DEFAULT_IGNORE_INDEX;
            for (int k = 0; k < length; k++) tg[base + length + k] = y[k];
        }
        return new Dataset(Tensor.fromArray(device, in, n, t), Tensor.fromArray(device, tg, n, t));
    }

    private static String name(Kind kind) { return kind.name().toLowerCase(java.util.Locale.ROOT) + " task"; }
}
