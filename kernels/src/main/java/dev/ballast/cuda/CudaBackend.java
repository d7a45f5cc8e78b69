package dev.ballast.cuda;

import dev.ballast.engine.backend.Backend;

/** The CUDA backend (work in progress: opening is not implemented yet). */
public final class CudaBackend {
    private CudaBackend() {}

    static Backend open(CudaRuntime runtime) {
        throw new UnsupportedOperationException("CUDA backend not implemented yet");
    }
}
