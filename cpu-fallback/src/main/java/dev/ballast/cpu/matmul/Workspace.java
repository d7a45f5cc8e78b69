package dev.ballast.cpu.matmul;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread scratch reused across calls: packing buffers and a small native tile for the ragged
 * edges of the output. A workspace is checked out for exclusive use and handed back, so a nested
 * or concurrent use on the same thread gets a fresh one instead of sharing.
 */
final class Workspace {

    private static final ThreadLocal<Workspace> WORKER = new ThreadLocal<>();
    private static final ThreadLocal<Workspace> CALLER = new ThreadLocal<>();

    float[] f32 = new float[0];
    /** A second float buffer, for scratch needed beside {@link #f32}. */
    float[] f32b = new float[0];
    double[] f64 = new double[0];
    /** Native scratch for one edge micro-tile (bytes enough for either dtype). */
    final MemorySegment edge;

    private Workspace() {
        edge = Arena.ofAuto().allocate(8L * KernelF32.MR * KernelF32.NR + 8L * KernelF64.MR * KernelF64.NR, 64);
    }

    float[] f32(int size) {
        if (f32.length < size) f32 = new float[size];
        return f32;
    }

    float[] f32b(int size) {
        if (f32b.length < size) f32b = new float[size];
        return f32b;
    }

    double[] f64(int size) {
        if (f64.length < size) f64 = new double[size];
        return f64;
    }

    /** Workspace for one work item (packing A, edge tiles). */
    static Workspace worker() { return take(WORKER); }

    static void releaseWorker(Workspace w) { WORKER.set(w); }

    /** Workspace of the calling thread for the whole call (packed B). */
    static Workspace caller() { return take(CALLER); }

    static void releaseCaller(Workspace w) { CALLER.set(w); }

    private static Workspace take(ThreadLocal<Workspace> local) {
        Workspace w = local.get();
        if (w == null) return new Workspace();
        local.set(null);
        return w;
    }
}
