package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.backend.BackendProvider;
import dev.ballast.engine.backend.BackendProvider.Probe;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The provider's fallback story: it is registered, and says in one line why CUDA is not there. */
class CudaBackendProviderTest {

    @Test
    void registeredAsServiceWithNameAndPriority() {
        List<BackendProvider> cuda = ServiceLoader.load(BackendProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(p -> p.name().equals("cuda")).toList();
        assertEquals(1, cuda.size(), "exactly one 'cuda' provider on the class path");
        assertEquals(100, cuda.get(0).priority());
    }

    @Test
    void disabledByProperty() {
        String old = System.getProperty(CudaRuntime.DISABLE_PROPERTY);
        System.setProperty(CudaRuntime.DISABLE_PROPERTY, "true");
        try {
            Probe p = new CudaBackendProvider().open();
            assertEquals("disabled by ballast.cuda.disable", assertInstanceOf(Probe.Unavailable.class, p).reason());
        } finally {
            if (old == null) System.clearProperty(CudaRuntime.DISABLE_PROPERTY);
            else System.setProperty(CudaRuntime.DISABLE_PROPERTY, old);
        }
    }

    @Test
    void withoutDriverSaysLibcudaNotFound() {
        Assumptions.assumeTrue(CudaLibraries.findLibcuda().isEmpty(), "libcuda.so.1 is installed here");
        Probe p = new CudaBackendProvider().open();
        String reason = assertInstanceOf(Probe.Unavailable.class, p).reason();
        assertTrue(reason.startsWith("libcuda.so.1 not found"), reason);
        assertTrue(!reason.contains("\n") && !reason.contains("Exception"), "one clean line: " + reason);
    }

    @Test
    void nvrtcAndCublasCandidatesFollowDriverMajor() {
        assertEquals(List.of("libnvrtc.so.13", "libnvrtc.so.12"), CudaLibraries.nvrtcCandidates(13000));
        assertEquals(List.of("libnvrtc.so.12"), CudaLibraries.nvrtcCandidates(12080));
        assertEquals(List.of("libcublas.so.13", "libcublas.so.12"), CudaLibraries.cublasCandidates(13010));
        assertEquals(List.of(), CudaLibraries.cublasCandidates(11080));
    }

    @Test
    void openNeverThrows() {
        Probe p = new CudaBackendProvider().open();
        if (p instanceof Probe.Unavailable u) assertTrue(!u.reason().isBlank());
    }
}
