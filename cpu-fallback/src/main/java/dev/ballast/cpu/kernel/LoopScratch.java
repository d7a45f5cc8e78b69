package dev.ballast.cpu.kernel;

/**
 * Per-thread heap scratch of the whole-layer recurrent loops ({@link LstmForwardF32}, {@link LstmBackwardF32}), kept
 * across calls so that a training step does not allocate (and zero) its row buffers afresh. Slots are numbered by the
 * caller; an array comes back with undefined contents and at least the requested length. A loop never calls another
 * loop on the same thread, so a slot has one user at a time.
 */
final class LoopScratch {
    private LoopScratch() {}

    static final int SLOTS = 16;
    /** The slot of a loop's packed {@code W_hh}, filled by the calling thread before the row groups run. */
    static final int PACKED = 13;
    private static final ThreadLocal<float[][]> POOL = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

    /** The calling thread's array in {@code slot}, grown to at least {@code n} floats. */
    static float[] get(int slot, int n) {
        float[][] pool = POOL.get();
        if (pool[slot].length < n) pool[slot] = new float[n];
        return pool[slot];
    }
}
