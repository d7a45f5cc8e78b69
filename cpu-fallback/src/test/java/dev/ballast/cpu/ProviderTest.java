package dev.ballast.cpu;

import static org.junit.jupiter.api.Assertions.*;

import dev.ballast.engine.Device;
import dev.ballast.engine.backend.BackendProvider;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class ProviderTest {

    @Test
    void serviceLoaderFindsTheCpuBackend() {
        BackendProvider p = ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(x -> x.name().equals("cpu")).findFirst().orElseThrow();
        assertEquals(0, p.priority());
        assertInstanceOf(BackendProvider.Probe.Available.class, p.open());
        assertEquals("cpu", Device.cpu().name());
    }

    @Test
    void factsNameThreadsAndVectorWidth() {
        CpuBackend be = new CpuBackend(3);
        var f = be.facts();
        assertTrue(f.get("threads").startsWith("3"), f.toString());
        assertTrue(f.get("vector width").matches("\\d+ bits \\(\\d+ x f32\\)"), f.get("vector width"));
        assertTrue(be.description().startsWith("3 threads"), be.description());
        be.pool().shutdown();
    }

    @Test
    void threadCountFromSystemProperty() {
        String old = System.getProperty(CpuBackend.THREADS_PROPERTY);
        try {
            System.setProperty(CpuBackend.THREADS_PROPERTY, "5");
            assertEquals(5, CpuBackend.configuredThreads());
            System.setProperty(CpuBackend.THREADS_PROPERTY, "zero");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, CpuBackend::configuredThreads);
            assertTrue(e.getMessage().contains("ballast.threads") && e.getMessage().contains(">= 1"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(CpuBackend.THREADS_PROPERTY); else System.setProperty(CpuBackend.THREADS_PROPERTY, old);
        }
    }
}
