package dev.ballast.engine.optim;

import dev.ballast.engine.backend.LrSchedule;
import dev.ballast.engine.backend.MultiTensorOps;
import dev.ballast.engine.backend.Strided;
import java.util.List;

/**
 * The one fused hook of an {@link Optimizer}: runs its backend kernel ({@code fusedAdam}, {@code fusedSgd}) for one
 * parameter group. An optimizer that has one returns it from {@code Optimizer.fusedUpdate()}; one that has none
 * returns empty and always takes the composed path, so "has a fused update" and "runs one" cannot disagree.
 */
@FunctionalInterface
public interface FusedUpdate {

    /**
     * One group's views: the group index, the global indices of its parameters (naming their state), the
     * parameters and gradients (contiguous F32), the schedule with the group's base lr, the 0-d coefficient, skip
     * flag and learning-rate factor (null: none), the group's device step counter (0-d F64, incremented by the kernel on a taken step) and the
     * low-precision working copies of the parameters to refresh in the same pass (F16/BF16, null: none kept; see
     * {@code Optimizer.keepWorkingCopies}).
     */
    record Group(int group, List<Integer> indices, List<Strided> params, List<Strided> grads, LrSchedule schedule,
                 Strided coefficient, Strided skip, Strided lrFactor, Strided step, List<Strided> workingCopies) {}

    /**
     * Runs the kernel for {@code group}; the optimizer's state tensors come from {@code Optimizer.state}. Returns
     * whether the kernel wrote the group's working copies (false: the dispatcher casts them after it, an extra pass).
     */
    boolean run(MultiTensorOps ops, Group group);
}
