package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class CpuThreadsTest {

    @Test void propertyWinsOverEnvironment() {
        CpuThreads t = CpuThreads.resolve("3", Map.of("BALLAST_THREADS", "5"), 7);
        assertEquals(3, t.count());
        assertEquals("3 (-Dballast.threads)", t.toString());
    }

    @Test void environmentWinsOverProcessors() {
        CpuThreads t = CpuThreads.resolve(null, Map.of("BALLAST_THREADS", " 5 "), 7);
        assertEquals(5, t.count());
        assertEquals("BALLAST_THREADS", t.source());
    }

    @Test void processorsWhenNothingIsSet() {
        CpuThreads t = CpuThreads.resolve("", Map.of(), 7);
        assertEquals(7, t.count());
        assertEquals("", t.note());
    }

    @Test void badValuesAreSkippedAndNamed() {
        CpuThreads t = CpuThreads.resolve("0", Map.of("BALLAST_THREADS", "many"), 7);
        assertEquals(7, t.count());
        assertTrue(t.note().contains("-Dballast.threads='0'"), t.note());
        assertTrue(t.note().contains("BALLAST_THREADS='many'"), t.note());
        assertTrue(t.toString().startsWith("7 (available processors) [ignored"), t.toString());
    }
}
