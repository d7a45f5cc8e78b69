package dev.ballast.cuda;

/**
 * The Philox4x32-10 stream as the engine specifies it, in plain Java: the reference the CUDA kernels
 * (and the CPU backend) must reproduce bit for bit.
 */
final class PhiloxReference {
    private PhiloxReference() {}

    static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /** Ten rounds on counter {@code c} (modified in place) with key (k0, k1). */
    static void philox(int[] c, int k0, int k1) {
        for (int round = 0; round < 10; round++) {
            if (round > 0) { k0 += W0; k1 += W1; }
            long p0 = (M0 & 0xFFFFFFFFL) * (c[0] & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c[2] & 0xFFFFFFFFL);
            int n0 = (int) (p1 >>> 32) ^ c[1] ^ k0;
            int n2 = (int) (p0 >>> 32) ^ c[3] ^ k1;
            c[1] = (int) p1;
            c[3] = (int) p0;
            c[0] = n0;
            c[2] = n2;
        }
    }

    static int[] block(long block, long seed) {
        int[] c = {(int) block, (int) (block >>> 32), 0, 0};
        philox(c, (int) seed, (int) (seed >>> 32));
        return c;
    }

    static float uniform(long seed, long g) {
        int x = block(Long.divideUnsigned(g, 4), seed)[(int) Long.remainderUnsigned(g, 4)];
        return (x >>> 8) * 0x1p-24f;
    }

    static float normal(long seed, long g) {
        int[] x = block(Long.divideUnsigned(g, 2), seed);
        int lane = (int) Long.remainderUnsigned(g, 2) * 2;
        double u1 = ((x[lane] >>> 8) + 1) * 0x1p-24;
        double u2 = (x[lane + 1] >>> 8) * 0x1p-24;
        return (float) (Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
    }
}
