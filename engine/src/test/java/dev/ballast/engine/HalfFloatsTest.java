package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    private static void f16(int expectedBits, double d) {
        assertEquals(expectedBits, HalfFloats.doubleToF16(d) & 0xFFFF,
                () -> "doubleToF16(" + d + ") = 0x" + Integer.toHexString(HalfFloats.doubleToF16(d) & 0xFFFF));
    }

    private static void bf16(int expectedBits, double d) {
        assertEquals(expectedBits, HalfFloats.doubleToBf16(d) & 0xFFFF,
                () -> "doubleToBf16(" + d + ") = 0x" + Integer.toHexString(HalfFloats.doubleToBf16(d) & 0xFFFF));
    }

    @Test
    void f16EdgeValues() {
        f16(0x7BFF, 65504.0);                 // max finite
        f16(0x7BFF, 65519.99);                // just below the rounding boundary
        f16(0x7C00, 65520.0);                 // halfway to 2^16: ties to even gives infinity
        f16(0x7C00, 1e300);
        f16(0xFC00, Double.NEGATIVE_INFINITY);
        f16(0x0001, 0x1p-24);                 // smallest subnormal
        f16(0x0000, 0x1p-25);                 // exactly half of it: tie to even (zero)
        f16(0x0001, Math.nextUp(0x1p-25));
        f16(0x0400, 0x1p-14);                 // smallest normal
        f16(0x03FF, 0x1p-14 - 0x1p-24);       // largest subnormal
        f16(0x8000, -0.0);
        f16(0x0000, 1e-300);
        f16(0x3C00, 1.0);
        f16(0x3C00, 1.0 + 0x1p-11);           // tie between 1 and 1+2^-10: even (1)
        f16(0x3C02, 1.0 + 3 * 0x1p-11);       // tie between 1+2^-10 and 1+2^-9: even (the latter)
        f16(0x3C01, 1.0 + 0x1p-11 + 0x1p-40); // just above the tie: up
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.doubleToF16(Double.NaN))));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.doubleToF16(-Double.NaN))));
    }

    @Test
    void bf16EdgeValues() {
        bf16(0x7F7F, 3.3895313892515355e38);  // max finite
        bf16(0x7F80, 3.4028234663852886e38);  // float max rounds to infinity
        bf16(0x7F80, 1e39);
        bf16(0x0001, 0x1p-133);               // smallest subnormal
        bf16(0x0000, 0x1p-134);               // tie to even (zero)
        bf16(0x0001, Math.nextUp(0x1p-134));
        bf16(0x8000, -0.0);
        bf16(0x3F80, 1.0);
        bf16(0x3F80, 1.0 + 0x1p-8);           // tie: even
        bf16(0x3F82, 1.0 + 3 * 0x1p-8);       // tie: even (up)
        bf16(0x3F81, 1.0 + 0x1p-8 + 0x1p-30);
        assertEquals(0x3F80, HalfFloats.floatToBf16(1.0f + 0x1p-8f) & 0xFFFF);
        assertEquals(0x7F80, HalfFloats.floatToBf16(Float.MAX_VALUE) & 0xFFFF);
        assertEquals(0xFF80, HalfFloats.floatToBf16(Float.NEGATIVE_INFINITY) & 0xFFFF);
        assertEquals(0x8000, HalfFloats.floatToBf16(-0.0f) & 0xFFFF);
        short nan = HalfFloats.floatToBf16(Float.intBitsToFloat(0x7F80_0001)); // signalling NaN with a low payload
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(nan)), "NaN must not become infinity");
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.doubleToBf16(Double.NaN))));
        assertEquals(0xFFC0, HalfFloats.floatToBf16(Float.intBitsToFloat(0xFFC0_0000)) & 0xFFFF);
    }

    /** Rounding once from double differs from rounding through float: this value shows it. */
    @Test
    void doubleRoundsOnce() {
        // 1 + 2^-11 + 2^-30 is above the f16 tie, but rounds to the tie 1 + 2^-11 in float (24 bits).
        double d = 1.0 + 0x1p-11 + 0x1p-30;
        assertEquals(0x3C00, Float.floatToFloat16((float) d) & 0xFFFF, "through float it looks like a tie");
        f16(0x3C01, d);
        double b = 1.0 + 0x1p-8 + 0x1p-40;
        assertEquals(0x3F80, HalfFloats.floatToBf16((float) b) & 0xFFFF);
        bf16(0x3F81, b);
    }

    @Test
    void agreesWithFloatPathOnFloats() {
        Random r = new Random(1234);
        for (int i = 0; i < 2_000_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f)) continue;
            assertEquals(Float.floatToFloat16(f), HalfFloats.doubleToF16(f), () -> "f16 of " + f);
            assertEquals(HalfFloats.floatToBf16(f), HalfFloats.doubleToBf16(f), () -> "bf16 of " + f);
        }
    }

    @Test
    void roundTripsAreExact() {
        for (int h = 0; h < 0x10000; h++) {
            short s = (short) h;
            float f16 = HalfFloats.f16ToFloat(s);
            if (!Float.isNaN(f16)) {
                assertEquals(s, HalfFloats.floatToF16(f16));
                assertEquals(s, HalfFloats.doubleToF16(f16));
            }
            float b = HalfFloats.bf16ToFloat(s);
            if (!Float.isNaN(b)) {
                assertEquals(s, HalfFloats.floatToBf16(b));
                assertEquals(s, HalfFloats.doubleToBf16(b));
            } else {
                assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(b))));
            }
        }
    }

    /** Compares against the nearest of the two neighbouring representable values, computed exactly in double. */
    @Test
    void randomDoublesRoundToNearest() {
        Random r = new Random(99);
        for (int i = 0; i < 200_000; i++) {
            double d = (r.nextDouble() * 2 - 1) * Math.scalb(1.0, r.nextInt(40) - 26);
            short h = HalfFloats.doubleToF16(d);
            double got = HalfFloats.f16ToFloat(h);
            if (Double.isInfinite(got)) { assertTrue(Math.abs(d) >= 65520.0); continue; }
            double other = Math.abs(got) < Math.abs(d)
                    ? HalfFloats.f16ToFloat((short) (h + 1)) : HalfFloats.f16ToFloat((short) (h - 1));
            if (Math.abs(got) == 0 && Math.abs(d) > 0) other = Math.copySign(0x1p-24, d);
            assertTrue(Math.abs(got - d) <= Math.abs(other - d), () -> d + " -> " + got);
            double bg = HalfFloats.bf16ToFloat(HalfFloats.doubleToBf16(d));
            assertTrue(Math.abs(bg - d) <= Math.abs(d) * 0x1p-8, () -> "bf16 of " + d + " -> " + bg);
        }
    }
}
