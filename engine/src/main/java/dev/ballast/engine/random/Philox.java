package dev.ballast.engine.random;

/**
 * The Philox 4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011), with the constants of Random123 and cuRAND, and the stream every Ballast
 * backend derives from it. Each backend must produce exactly these values, bit for bit.
 *
 * <p><b>Bijection.</b> A 128-bit counter {@code (c0, c1, c2, c3)} and a 64-bit key {@code (k0, k1)}
 * go through 10 rounds; a round maps the counter to
 * {@code (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0))} with
 * {@code M0 = 0xD2511F53}, {@code M1 = 0xCD9E8D57} (32x32 to 64-bit unsigned products), and the key
 * is bumped by {@code (W0, W1) = (0x9E3779B9, 0xBB67AE85)} between rounds (9 bumps).
 *
 * <p><b>Stream.</b> For a seed {@code s} the key is {@code (lo32(s), hi32(s))}. Element {@code e} of a
 * tensor filled at counter {@code offset} has global index {@code g = offset + e}; counter block
 * {@code c} means the counter {@code (lo32(c), hi32(c), 0, 0)}, whose four outputs are lanes 0..3.
 * <ul>
 *   <li>UNIFORM: block {@code c = g / 4}, lane {@code x = g % 4};
 *       value {@code (x >>> 8) * 2^-24} as a float in [0, 1).</li>
 *   <li>NORMAL: block {@code c = g / 2}, lanes {@code 2*(g%2)} and {@code 2*(g%2)+1} give x1, x2;
 *       {@code u1 = ((x1 >>> 8) + 1) * 2^-24} in (0, 1], {@code u2 = (x2 >>> 8) * 2^-24};
 *       value {@code sqrt(-2 ln u1) * cos(2 pi u2)} computed in double (Math.log, Math.sqrt,
 *       Math.cos) and rounded to float.</li>
 * </ul>
 * An F64 tensor receives the same float values, widened.
 */
public final class Philox {
    private Philox() {}

    public static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    public static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;
    private static final float TWO_M24 = 0x1p-24f;

    /**
     * The raw bijection: writes the 4 outputs for {@code counter} (4 words) and {@code key} (2 words)
     * into {@code out} (4 words).
     */
    public static void bijection(int[] counter, int[] key, int[] out) {
        int c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
        int k0 = key[0], k1 = key[1];
        for (int r = 0; r < 10; r++) {
            if (r > 0) { k0 += W0; k1 += W1; }
            long p0 = Integer.toUnsignedLong(M0) * Integer.toUnsignedLong(c0);
            long p1 = Integer.toUnsignedLong(M1) * Integer.toUnsignedLong(c2);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        }
        out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
    }

    /** The 4 outputs of counter block {@code block} under {@code seed}, into {@code out[0..3]}. */
    public static void block(long seed, long block, int[] out) {
        int c0 = (int) block, c1 = (int) (block >>> 32), c2 = 0, c3 = 0;
        int k0 = (int) seed, k1 = (int) (seed >>> 32);
        for (int r = 0; r < 10; r++) {
            if (r > 0) { k0 += W0; k1 += W1; }
            long p0 = (M0 & 0xFFFF_FFFFL) * (c0 & 0xFFFF_FFFFL);
            long p1 = (M1 & 0xFFFF_FFFFL) * (c2 & 0xFFFF_FFFFL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            c3 = (int) p0;
            c0 = n0; c1 = n1; c2 = n2;
        }
        out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
    }

    /** A raw 32-bit output turned into a uniform float in [0, 1). */
    public static float toUniform(int x) { return (x >>> 8) * TWO_M24; }

    /** The Box-Muller value of two raw outputs, as defined in the class comment. */
    public static float toNormal(int x1, int x2) {
        double u1 = ((x1 >>> 8) + 1) * (double) TWO_M24;
        double u2 = (x2 >>> 8) * (double) TWO_M24;
        return (float) (Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2));
    }

    /** The UNIFORM stream's element at global index {@code g}. */
    public static float uniform(long seed, long g) {
        int[] out = new int[4];
        block(seed, Long.divideUnsigned(g, 4), out);
        return toUniform(out[(int) (g & 3)]);
    }

    /** The NORMAL stream's element at global index {@code g}. */
    public static float normal(long seed, long g) {
        int[] out = new int[4];
        block(seed, Long.divideUnsigned(g, 2), out);
        int lane = 2 * (int) (g & 1);
        return toNormal(out[lane], out[lane + 1]);
    }

    /** Writes {@code n} UNIFORM values for global indices {@code start .. start+n-1} into {@code dst[dstOff..]}. */
    public static void fillUniform(long seed, long start, float[] dst, int dstOff, int n) {
        int[] out = new int[4];
        long g = start;
        long end = start + n;
        long loaded = -1;
        for (int i = 0; g < end; g++, i++) {
            long c = g >>> 2;
            if (c != loaded) { block(seed, c, out); loaded = c; }
            dst[dstOff + i] = toUniform(out[(int) (g & 3)]);
        }
    }

    /** Writes {@code n} NORMAL values for global indices {@code start .. start+n-1} into {@code dst[dstOff..]}. */
    public static void fillNormal(long seed, long start, float[] dst, int dstOff, int n) {
        int[] out = new int[4];
        long g = start;
        long end = start + n;
        long loaded = -1;
        for (int i = 0; g < end; g++, i++) {
            long c = g >>> 1;
            if (c != loaded) { block(seed, c, out); loaded = c; }
            int lane = 2 * (int) (g & 1);
            dst[dstOff + i] = toNormal(out[lane], out[lane + 1]);
        }
    }
}
