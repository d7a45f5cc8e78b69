package dev.ballast.engine.random;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class PhiloxTest {

    private static void kat(int[] ctr, int[] key, int[] expected) {
        int[] out = new int[4];
        Philox.bijection(ctr, key, out);
        assertArrayEquals(expected, out, "Random123 philox4x32_10 known-answer vector");
    }

    @Test
    void random123KnownAnswers() {
        kat(new int[] {0, 0, 0, 0}, new int[] {0, 0},
                new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
        kat(new int[] {-1, -1, -1, -1}, new int[] {-1, -1},
                new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
        kat(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, new int[] {0xa4093822, 0x299f31d0},
                new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
    }

    @Test
    void blockMatchesBijection() {
        long seed = 0x1234_5678_9ABC_DEF0L, block = 0x0000_0007_FFFF_FFF3L;
        int[] a = new int[4], b = new int[4];
        Philox.block(seed, block, a);
        Philox.bijection(new int[] {(int) block, (int) (block >>> 32), 0, 0}, new int[] {(int) seed, (int) (seed >>> 32)}, b);
        assertArrayEquals(b, a);
    }

    @Test
    void bulkFillsMatchElementDefinitions() {
        long seed = 42, start = 13;
        int n = 101;
        float[] u = new float[n + 3], z = new float[n + 3];
        Philox.fillUniform(seed, start, u, 3, n);
        Philox.fillNormal(seed, start, z, 3, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Philox.uniform(seed, start + i), u[3 + i]);
            assertEquals(Philox.normal(seed, start + i), z[3 + i]);
        }
        // the element definition itself: lane g % 4 of block g / 4
        int[] out = new int[4];
        Philox.block(seed, 5, out);
        assertEquals((out[2] >>> 8) * 0x1p-24f, Philox.uniform(seed, 22));
    }

    @Test
    void uniformMoments() {
        int n = 1_000_000;
        float[] u = new float[n];
        Philox.fillUniform(7, 0, u, 0, n);
        double s = 0, s2 = 0;
        for (float v : u) {
            assertTrue(v >= 0f && v < 1f, "uniform value out of [0,1): " + v);
            s += v; s2 += (double) v * v;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        assertEquals(0.5, mean, 5 * Math.sqrt(1.0 / 12 / n));
        assertEquals(1.0 / 12, var, 0.002);
    }

    @Test
    void normalMoments() {
        int n = 1_000_000;
        float[] z = new float[n];
        Philox.fillNormal(99, 1000, z, 0, n);
        double s = 0, s2 = 0, s4 = 0;
        for (float v : z) {
            assertTrue(Float.isFinite(v));
            s += v; s2 += (double) v * v; s4 += (double) v * v * v * v;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        assertEquals(0.0, mean, 5 / Math.sqrt(n));
        assertEquals(1.0, var, 0.01);
        assertEquals(3.0, s4 / n, 0.05, "kurtosis of a normal");
    }

    @Test
    void differentSeedsDiffer() {
        assertNotEquals(Philox.uniform(1, 0), Philox.uniform(2, 0));
        assertNotEquals(Philox.uniform(1L << 32, 0), Philox.uniform(0, 0), "the high seed word is part of the key");
    }
}
