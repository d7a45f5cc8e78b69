package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.cpu.kernel.Erf;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ErfTest {

    @Test
    void knownValues() {
        assertEquals(0.52049987781304653768, Erf.erf(0.5), 2e-16);
        assertEquals(0.84270079294971486934, Erf.erf(1.0), 2e-16);
        assertEquals(0.99532226501895273416, Erf.erf(2.0), 2e-16);
        assertEquals(2.20904969985854413727e-5, Erf.erfc(3.0), 1e-15 * 2.2e-5);
        assertEquals(1.53745979442803485018e-12, Erf.erfc(5.0), 1e-15 * 1.5e-12);
        assertEquals(2.08848758376254475700e-45, Erf.erfc(10.0), 1e-14 * 2.1e-45);
        assertEquals(-Erf.erf(0.7), Erf.erf(-0.7));
        assertEquals(1.0, Erf.erf(Double.POSITIVE_INFINITY));
        assertEquals(2.0, Erf.erfc(Double.NEGATIVE_INFINITY));
        assertTrue(Double.isNaN(Erf.erf(Double.NaN)));
        assertEquals(0.0, Erf.erf(0.0));
    }

    @Test
    void referenceImplementationIsAccurate() {
        assertEquals(0.15729920705028513066, ReferenceErf.erfc(1.0), 1e-16);
        assertEquals(0.47950012218695346232, ReferenceErf.erfc(0.5), 1e-16);
        assertEquals(2.20904969985854413727e-5, ReferenceErf.erfc(3.0), 1e-15 * 2.2e-5);
    }

    /** The reference evaluates exp(-x*x) naively, which loses about x*x*2^-53 relative; the tolerance allows for that. */
    @Test
    void matchesAnIndependentImplementation() {
        Random r = new Random(3);
        for (int i = 0; i < 40_000; i++) {
            double x = (r.nextDouble() * 2 - 1) * 12;
            double ref = ReferenceErf.erfc(x), got = Erf.erfc(x);
            assertEquals(ref, got, (1e-14 + 4e-16 * x * x) * Math.abs(ref), "erfc(" + x + ")");
            assertEquals(1 - ReferenceErf.erfc(x), Erf.erf(x), 1e-15 + 1e-15 * Math.abs(Erf.erf(x)), "erf(" + x + ")");
        }
    }
}
