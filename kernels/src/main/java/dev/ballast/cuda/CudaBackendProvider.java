package dev.ballast.cuda;

import dev.ballast.engine.backend.BackendProvider;

/**
 * Service provider for the CUDA backend ("cuda", priority 100). {@link #open()} reports the ordinary
 * failures (disabled, no driver, no device, no NVRTC or cuBLAS) as one line and never throws.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override public String name() { return "cuda"; }

    @Override public int priority() { return 100; }

    @Override public Probe open() {
        try {
            return switch (CudaRuntime.probe()) {
                case CudaRuntime.Result.Missing m -> new Probe.Unavailable(m.reason());
                case CudaRuntime.Result.Found f -> new Probe.Available(CudaBackend.open(f.runtime()));
            };
        } catch (CudaException e) {
            return new Probe.Unavailable("CUDA backend failed to start: " + e.getMessage());
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            return new Probe.Unavailable("CUDA backend failed to start: " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }
}
