package dev.ballast.bench.step;

import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;

/**
 * One model of {@link StepModels} ready to train: module, batch, optimizer and the gradient chain that clips by
 * global norm ({@link StepModels#MAX_NORM}) inside the optimizer's pass. {@link #step()} is the timed unit:
 * zero the gradients, forward, loss, backward, clip and update, every temporary freed by a scope.
 */
public final class StepModel implements AutoCloseable {
    private final StepSpec spec;
    private final Module module;
    private final Tensor x;
    private final Tensor y;
    private final Optimizer optimizer;
    private final GradientChain chain;

    private StepModel(StepSpec spec, Module module, Tensor x, Tensor y) {
        this.spec = spec;
        this.module = module;
        this.x = Scope.detachFromScopes(x);
        this.y = Scope.detachFromScopes(y);
        this.optimizer = StepModels.optimizer(spec, module.parameters());
        this.chain = GradientChain.of(Link.clipByGlobalNorm(StepModels.MAX_NORM), Link.apply(optimizer));
    }

    /** The spec's model with seeded random weights and a seeded random batch. */
    public static StepModel create(StepSpec spec, Device device, long seed) {
        Tensor[] b = StepModels.batch(spec, device, seed + 1);
        return new StepModel(spec, StepModels.module(spec, device, new Generator(seed)), b[0], b[1]);
    }

    /** The spec's model with the given weights (Ballast names) and batch; the caller keeps ownership of its tensors. */
    public static StepModel of(StepSpec spec, Device device, java.util.Map<String, Tensor> weights, Tensor x, Tensor y) {
        Module m = StepModels.module(spec, device, new Generator(0));
        m.loadStateDict(weights, true);
        return new StepModel(spec, m, x.detach(), y.detach());
    }

    public StepSpec spec() { return spec; }

    public Module module() { return module; }

    public Optimizer optimizer() { return optimizer; }

    /** Forward and loss on the model's batch, recorded for backward (in the caller's scope). */
    public Tensor loss() { return StepModels.loss(spec, module, x, y); }

    /** Clips by global norm and updates the weights from the current gradients; returns the chain's device-side statistics. */
    public dev.ballast.stability.chain.StepStats clipAndUpdate() { return chain.step(); }

    /** One full training step, every temporary freed before it returns. */
    public void step() {
        try (Scope s = Scope.open()) {
            optimizer.zeroGrad();
            loss().backward();
            chain.step();
        }
    }

    @Override
    public void close() {
        optimizer.close();
        module.close();
        x.close();
        y.close();
    }
}
