package dev.ballast.cpu;

import dev.ballast.engine.backend.BackendProvider;

/** Registers the CPU backend with {@link java.util.ServiceLoader}: name "cpu", priority 0, always available. */
public final class CpuBackendProvider implements BackendProvider {
    @Override public String name() { return "cpu"; }

    @Override public int priority() { return 0; }

    @Override public Probe open() {
        try {
            return new Probe.Available(new CpuBackend());
        } catch (IllegalArgumentException e) {   // a bad thread-count setting: say which and what is allowed
            return new Probe.Unavailable(e.getMessage());
        }
    }
}
