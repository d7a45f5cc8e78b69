package dev.ballast.engine.backend;

/**
 * A service (found with {@link java.util.ServiceLoader}) that can create a backend. Opening may fail
 * for ordinary reasons (no driver, no GPU); the provider then reports why instead of throwing.
 */
public interface BackendProvider {

    /** Short name of the backend it makes ("cpu", "cuda"). */
    String name();

    /** Higher wins when several backends are available; CUDA uses 100, the CPU 0. */
    int priority();

    /** Tries to open the backend. Never throws for the expected failure cases. */
    Probe open();

    /** The result of {@link #open()}: a backend, or the one-line reason there is none. */
    sealed interface Probe {
        record Available(Backend backend) implements Probe {}
        record Unavailable(String reason) implements Probe {}
    }
}
