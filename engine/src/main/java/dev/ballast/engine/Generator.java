package dev.ballast.engine;

/**
 * A seeded Philox 4x32-10 random stream: a seed and a counter offset. Every draw advances the offset
 * by the counters it used, so the same seed gives the same numbers on every backend and for any
 * thread count. Not thread-safe; state can be saved and restored for exact resume.
 */
public final class Generator {
    private final long seed;
    private long offset;

    public Generator(long seed) { this(seed, 0); }

    public Generator(long seed, long offset) {
        this.seed = seed;
        this.offset = offset;
    }

    public long seed() { return seed; }

    /** The next unused counter position. */
    public long offset() { return offset; }

    /** Reserves {@code n} counter positions (rounded up to whole Philox blocks) and returns the first. */
    public long reserve(long n) {
        long start = offset;
        offset += (n + 3) & ~3L;
        return start;
    }

    /** Restores a saved offset. */
    public void setOffset(long offset) { this.offset = offset; }
}
