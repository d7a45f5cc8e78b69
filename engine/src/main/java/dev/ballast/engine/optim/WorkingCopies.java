package dev.ballast.engine.optim;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;

/**
 * The F16/BF16 working copies an {@link Optimizer} keeps of its F32 parameters for mixed-precision forward passes
 * ({@link Autocast#weight} hands a copy out instead of casting the master weight at every use). The fused update
 * writes them in its own pass over the weights; the composed update, and a backend whose kernel does not write them,
 * cast them afterwards. Each refresh re-registers the copy with the parameter's current version, so a parameter
 * changed outside the optimizer (a loaded checkpoint) is cast again by {@link Autocast#weight} until the next step.
 */
final class WorkingCopies implements AutoCloseable {
    private final List<Tensor> params;
    private final Tensor[] copies; // per parameter, null for parameters that are not F32

    WorkingCopies(List<Tensor> params, DType dtype) {
        if (dtype == null || !dtype.isHalf())
            throw new IllegalArgumentException("keepWorkingCopies: dtype must be f16 or bf16, got " + (dtype == null ? null : dtype.label()));
        this.params = params;
        this.copies = new Tensor[params.size()];
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (p.dtype() != DType.F32 || !p.isContiguous()) continue;
            copies[i] = Scope.detachFromScopes(Tensor.empty(p.device(), dtype, p.shape()));
        }
        refreshAll();
    }

    /** The copies of the parameters at {@code indices} as kernel views, or null when one of them has none. */
    List<Strided> views(List<Integer> indices) {
        List<Strided> out = new ArrayList<>(indices.size());
        for (int i : indices) {
            if (copies[i] == null) return null;
            out.add(copies[i].view());
        }
        return out;
    }

    /** After a fused update of {@code indices}: casts the copies the kernel did not write, and re-registers all. */
    void written(List<Integer> indices, boolean byKernel) {
        for (int i : indices) {
            if (!byKernel) refresh(i);
            else if (copies[i] != null) Autocast.setWorkingCopy(params.get(i), copies[i]);
        }
    }

    /** Casts every parameter into its copy. */
    void refreshAll() {
        for (int i = 0; i < copies.length; i++) refresh(i);
    }

    private void refresh(int i) {
        if (copies[i] == null) return;
        try (GradMode.Guard ng = GradMode.noGrad()) {
            copies[i].copyFrom(params.get(i));
        }
        Autocast.setWorkingCopy(params.get(i), copies[i]);
    }

    /** Detaches the copies from their parameters and frees them. */
    @Override
    public void close() {
        for (int i = 0; i < copies.length; i++) {
            if (copies[i] == null) continue;
            Autocast.setWorkingCopy(params.get(i), null);
            copies[i].close();
        }
    }
}
