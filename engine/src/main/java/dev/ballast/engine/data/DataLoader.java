package dev.ballast.engine.data;

import dev.ballast.engine.Tensor;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;

/**
 * Cuts a {@link Dataset} into mini-batches. With shuffling, each epoch uses its own permutation drawn from
 * {@code SplittableRandom(seed, epoch)}, so the batch for (epoch, index) is the same in every run: a resumed run
 * picks up exactly where it stopped with {@link #batch(long, long)}. With {@code dropLast} a final partial batch is
 * skipped. Batches are new tensors (copies when shuffled, views otherwise) owned by the scope open at the call.
 */
public final class DataLoader {
    private final Dataset data;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final long seed;
    private long cachedEpoch = -1;
    private long[] cachedPerm;

    public DataLoader(Dataset data, int batchSize, boolean shuffle, boolean dropLast, long seed) {
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be > 0, got " + batchSize);
        if (dropLast && data.size() < batchSize)
            throw new IllegalArgumentException("dropLast with batch size " + batchSize + " leaves no batch from "
                    + data.size() + " examples");
        this.data = data;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.dropLast = dropLast;
        this.seed = seed;
    }

    public Dataset dataset() { return data; }

    public int batchSize() { return batchSize; }

    /** Batches in one epoch. */
    public long batchesPerEpoch() {
        long n = data.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** The example order of {@code epoch} (identity without shuffling). */
    public long[] order(long epoch) {
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        if (epoch == cachedEpoch) return cachedPerm;
        int n = Math.toIntExact(data.size());
        long[] perm = new long[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        if (shuffle) {
            SplittableRandom rng = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (epoch + 1)));
            for (int i = n - 1; i > 0; i--) { // Fisher-Yates
                int j = rng.nextInt(i + 1);
                long t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
        cachedEpoch = epoch;
        cachedPerm = perm;
        return perm;
    }

    /** Batch {@code index} of {@code epoch}. */
    public Batch batch(long epoch, long index) {
        long count = batchesPerEpoch();
        if (index < 0 || index >= count)
            throw new IllegalArgumentException("batch index " + index + " out of range: an epoch has " + count + " batches");
        long start = index * batchSize;
        long len = Math.min(batchSize, data.size() - start);
        if (!shuffle) {
            return new Batch(data.inputs().narrow(0, start, len), data.targets().narrow(0, start, len), epoch, index);
        }
        long[] perm = order(epoch);
        long[] idx = new long[(int) len];
        System.arraycopy(perm, (int) start, idx, 0, (int) len);
        try (Tensor ix = Tensor.fromArray(data.inputs().device(), idx, len)) {
            return new Batch(data.inputs().indexSelect(0, ix), data.targets().indexSelect(0, ix), epoch, index);
        }
    }

    /** The batches of one epoch, in order. */
    public Iterable<Batch> epoch(long epoch) {
        return () -> new Iterator<>() {
            private long next;

            @Override
            public boolean hasNext() { return next < batchesPerEpoch(); }

            @Override
            public Batch next() {
                if (!hasNext()) throw new NoSuchElementException();
                return batch(epoch, next++);
            }
        };
    }
}
