package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MainTest {

    @Test void versionNamesBallastAndJava() {
        Run r = Run.of("--version");
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().strip().split("\\R");
        assertEquals("ballast " + VersionProvider.ballastVersion(), lines[0]);
        assertTrue(lines[0].matches("ballast \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), lines[0]);
        assertTrue(lines[1].startsWith("java " + Runtime.version()), lines[1]);
    }

    @Test void helpListsTheCommands() {
        Run r = Run.of("--help");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("Usage: ballast"), r.out());
        assertTrue(r.out().contains("doctor"), r.out());
        assertTrue(r.out().contains("bench"), r.out());
    }

    @Test void benchHelpListsCpuMatmul() {
        Run r = Run.of("bench", "--help");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("cpu-matmul"), r.out());
    }

    @Test void unknownOptionIsAUsageError() {
        Run r = Run.of("--no-such-option");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Unknown option: '--no-such-option'"), r.err());
        assertTrue(r.err().contains("Usage: ballast"), r.err());
        assertEquals("", r.out());
    }

    @Test void unknownCommandIsAUsageError() {
        Run r = Run.of("frobnicate");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("frobnicate"), r.err());
    }

    @Test void noCommandIsAUsageError() {
        Run r = Run.of();
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Missing command: choose one of doctor, bench"), r.err());
        assertTrue(r.err().contains("Usage: ballast"), r.err());
    }

    @Test void benchWithoutABenchmarkIsAUsageError() {
        Run r = Run.of("bench");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Missing benchmark: choose one of cpu-matmul"), r.err());
    }
}
