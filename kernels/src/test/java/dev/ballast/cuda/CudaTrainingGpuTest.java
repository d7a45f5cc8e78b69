package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.TwoSpirals;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Losses;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.Tanh;
import dev.ballast.engine.optim.AdamW;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The training path on the GPU: autograd, layers and the fused AdamW step give the CPU's loss curve for the same
 * seed, and a loop of steps allocates nothing from the driver after warm-up. Tagged "gpu"; skips without one.
 */
@Tag("gpu")
class CudaTrainingGpuTest {

    /** Trains a small tanh MLP on {@code samples} two-spirals points for {@code steps} steps on {@code device}; returns the loss curve. */
    static List<Double> train(Device device, int samples, int steps, IntConsumer afterStep) {
        List<Double> losses = new ArrayList<>();
        try (Scope outer = Scope.open(); Dataset data = TwoSpirals.generate(device, samples, 0.0, 5)) {
            var spec = new ParamSpec(device, DType.F32, new Generator(1));
            Module model = new Sequential(new Linear(2, 64, spec), new Tanh(), new Linear(64, 64, spec), new Tanh(),
                    new Linear(64, 2, spec));
            AdamW opt = new AdamW(model.parameters(), 1e-2);
            for (int i = 0; i < steps; i++) {
                try (Scope s = Scope.open()) {
                    Tensor loss = Losses.crossEntropy(model.call(data.inputs()), data.targets());
                    opt.zeroGrad();
                    loss.backward();
                    opt.stepAsync(null, null);
                    losses.add(loss.item());
                }
                afterStep.accept(i);
            }
            opt.close();
            model.close();
        }
        return losses;
    }

    @Test void theGpuFollowsTheCpuLossCurve() {
        Device gpu = new Device(GpuBackends.cuda());
        Device cpu = new Device(GpuBackends.cpu());
        // The emulated device runs a block's 256 threads as OS threads and its blocks one after another (softmax
        // has one block per sample): 16 samples and 8 steps there, where learning shows as a falling loss only.
        int samples = GpuBackends.sized("spirals samples", 256, 16), steps = GpuBackends.sized("training steps", 60, 8);
        List<Double> onCpu = train(cpu, samples, steps, i -> { }), onGpu = train(gpu, samples, steps, i -> { });
        for (int i = 0; i < onCpu.size(); i++)
            assertEquals(onCpu.get(i), onGpu.get(i), 2e-3 * Math.abs(onCpu.get(i)) + 1e-4, "step " + i);
        double factor = steps >= 60 ? 0.8 : 1.0;
        assertTrue(onGpu.getLast() < factor * onGpu.getFirst(), "the GPU run learns: " + onGpu.getFirst() + " -> " + onGpu.getLast()
                + " in " + steps + " steps");
    }

    @Test void noDriverAllocationAfterWarmUp() {
        CudaBackend cuda = GpuBackends.cuda();
        long[] atWarm = new long[1];
        int samples = GpuBackends.sized("spirals samples", 256, 16), steps = GpuBackends.sized("training steps", 40, 12);
        train(new Device(cuda), samples, steps, i -> {
            if (i == 9) atWarm[0] = cuda.memoryStats().driverAllocations();
        });
        assertEquals(atWarm[0], cuda.memoryStats().driverAllocations(),
                "steps 10.." + (steps - 1) + " reuse cached blocks: " + cuda.memoryStats());
    }
}
