package dev.ballast.stability.clip;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.NormKind;
import dev.ballast.engine.backend.Strided;
import java.util.ArrayList;
import java.util.List;

/**
 * The one read pass over a list of gradients: total norm, clip coefficient and non-finite flag, all left in
 * device memory as one F32 tensor {@code [norm, coefficient, nonFinite]}. Uses the backend's fused
 * {@link MultiTensorOps} when it has them, and otherwise composes the same numbers from primitive ops.
 */
public final class GradNorm {
    private GradNorm() {}

    /** Index of the total norm in the result tensor. */
    public static final int NORM = 0;
    /** Index of the clip coefficient. */
    public static final int COEFFICIENT = 1;
    /** Index of the non-finite flag (1 when any value was NaN or infinite). */
    public static final int NON_FINITE = 2;

    /** The gradients of {@code params} that exist and hold elements, in order. */
    public static List<Tensor> gradients(List<Tensor> params) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null && g.numel() > 0) out.add(g);
        }
        return out;
    }

    /**
     * Computes {@code [norm, min(maxNorm / (norm + 1e-6), 1), nonFinite]} over {@code tensors} as a new F32
     * tensor of 3 elements on {@code device}. No host sync. {@code perTensor}, when not null, receives each
     * tensor's accumulator (F64; squares summed for L2, |x|^p for P) for monitoring.
     */
    public static Tensor compute(Device device, List<Tensor> tensors, double maxNorm, double normType, Tensor perTensor) {
        NormKind kind = NormKind.of(normType);
        if (!(maxNorm >= 0))
            throw new IllegalArgumentException("maxNorm must be a number >= 0, got " + maxNorm);
        Tensor out = Tensor.empty(device, DType.F32, 3);
        if (device.backend().multiTensorOps().orElse(null) instanceof MultiTensorOps fused) {
            List<Strided> views = new ArrayList<>(tensors.size());
            for (Tensor t : tensors) views.add(contiguousView(t));
            try (Tensor total = Tensor.empty(device, DType.F64, 2)) {
                fused.multiTensorNorm(views, kind, normType, perTensor == null ? null : perTensor.view(), total.view());
                fused.clipCoefficient(total.view(), kind, normType, maxNorm, out.view());
            }
            return out;
        }
        return composed(device, tensors, kind, normType, maxNorm, perTensor, out);
    }

    static Strided contiguousView(Tensor t) {
        if (!t.isContiguous())
            throw new IllegalArgumentException("gradient of shape " + java.util.Arrays.toString(t.shape())
                    + " is not contiguous; fused clipping needs contiguous gradients");
        return t.view();
    }

    /** The same semantics from primitive ops: one reduction per tensor, combined in F64. */
    private static Tensor composed(Device device, List<Tensor> tensors, NormKind kind, double p, double maxNorm,
                                   Tensor perTensor, Tensor out) {
        try (GradMode.Guard g = GradMode.noGrad(); dev.ballast.engine.Scope s = dev.ballast.engine.Scope.open()) {
            Tensor acc = Tensor.zeros(device, DType.F64);
            Tensor bad = Tensor.zeros(device, DType.F64);
            List<Tensor> parts = new ArrayList<>();
            for (Tensor t : tensors) {
                if (t.numel() == 0) { // contributes nothing (and max over nothing is undefined)
                    parts.add(Tensor.zeros(device, DType.F64));
                    continue;
                }
                Tensor x = t.to(DType.F64);
                Tensor a = switch (kind) {
                    case L2 -> x.square().sum();
                    case L1 -> x.abs().sum();
                    case INF -> x.abs().max();
                    case P -> x.abs().pow(p).sum();
                };
                parts.add(a);
                acc = kind == NormKind.INF ? acc.maximum(a) : acc.add(a);
                bad = bad.add(x.isFinite().rsub(1).sum());
            }
            if (perTensor != null && !parts.isEmpty())
                perTensor.copyFrom(Tensor.stack(parts, 0));
            Tensor norm = switch (kind) {
                case L1, INF -> acc;
                case L2 -> acc.sqrt();
                case P -> acc.pow(1 / p);
            };
            Tensor coef = norm.add(1e-6).rdiv(maxNorm).minimum(1.0);
            Tensor flag = bad.gt(0);
            out.copyFrom(Tensor.stack(List.of(norm, coef, flag), 0));
        }
        return out;
    }
}
