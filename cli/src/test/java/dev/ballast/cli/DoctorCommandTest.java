package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.backend.Backend;
import java.lang.reflect.Proxy;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DoctorCommandTest {

    /** Runs against whatever backends ServiceLoader finds on the test class path (none, CPU, CPU+CUDA). */
    @Test void printsEveryLineAndExitsZero() {
        Run r = Run.of("doctor");
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).startsWith("java: " + Runtime.version() + " ("), lines.get(0));
        assertTrue(lines.get(1).matches("vector: \\d+ bits \\(\\d+ x f32\\)"), lines.get(1));
        assertTrue(lines.get(2).matches("threads: \\d+ \\(.+\\).*"), lines.get(2));
        String backend = lines.get(3);
        List<Device.Status> statuses = Device.statuses();
        if (statuses.stream().noneMatch(Device.Status::available)) {
            assertTrue(backend.startsWith("backend: none ("), backend);
        } else {
            assertEquals("backend: " + Device.autoReason(), backend);
        }
        for (Device.Status s : statuses) {
            String expected = s.name() + ": " + (s.available() ? "available" : "unavailable") + " (" + s.detail() + ")";
            assertTrue(lines.contains(expected), "missing '" + expected + "' in\n" + r.out());
        }
    }

    @Test void chosenBackendFactsArePrefixedWithItsName() {
        Map<String, String> facts = new LinkedHashMap<>();
        facts.put("threads", "2");
        facts.put("isa", "AVX-512");
        Backend fake = fakeBackend("cpu", facts);
        List<Device.Status> statuses = List.of(
                new Device.Status("cuda", 100, false, "libcuda.so.1 not found"),
                new Device.Status("cpu", 0, true, "2 threads"));
        List<String> lines = DoctorCommand.backendLines(() -> statuses,
                () -> "cpu (cuda unavailable: libcuda.so.1 not found)", () -> fake);
        assertEquals(List.of(
                "backend: cpu (cuda unavailable: libcuda.so.1 not found)",
                "cuda: unavailable (libcuda.so.1 not found)",
                "cpu: available (2 threads)",
                "cpu.threads: 2",
                "cpu.isa: AVX-512"), lines);
    }

    @Test void noBackendOnTheClassPathSaysSo() {
        List<String> lines = DoctorCommand.backendLines(List::of,
                () -> { throw new IllegalStateException("no backend available: []"); },
                () -> { throw new AssertionError("not reached"); });
        assertEquals(1, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("backend: none (no backend found on the class path"), lines.get(0));
    }

    @Test void noBackendOpeningGivesTheReasons() {
        List<Device.Status> statuses = List.of(new Device.Status("cpu", 0, false, "UnsatisfiedLinkError: x"));
        List<String> lines = DoctorCommand.backendLines(() -> statuses,
                () -> { throw new IllegalStateException("no backend available: " + statuses); },
                () -> { throw new AssertionError("not reached"); });
        assertTrue(lines.get(0).startsWith("backend: none (no backend available: "), lines.get(0));
        assertEquals("cpu: unavailable (UnsatisfiedLinkError: x)", lines.get(1));
    }

    @Test void failingFactsAreReportedNotThrown() {
        Backend broken = fakeBackend("cuda", null);
        List<String> lines = DoctorCommand.backendLines(
                () -> List.of(new Device.Status("cuda", 100, true, "H100")), () -> "cuda", () -> broken);
        assertEquals("cuda.facts: unavailable (facts failed)", lines.get(lines.size() - 1));
    }

    /** A Backend that answers name() and facts() (throwing when facts is null); nothing else is called. */
    private static Backend fakeBackend(String name, Map<String, String> facts) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> name;
                    case "facts" -> {
                        if (facts == null) throw new IllegalStateException("facts failed");
                        yield facts;
                    }
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
