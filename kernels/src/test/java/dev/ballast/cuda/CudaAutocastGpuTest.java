package dev.ballast.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.Autocast;
import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.nn.LSTM;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.optim.AdamW;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Mixed precision on the GPU against its CPU twin, on fresh random inputs (seed printed): under {@link Autocast} a
 * Linear layer's product runs in f16/bf16 (cuBLAS with low-precision operands and f32 compute) and an LSTM's products
 * too (the unrolled graph on CUDA, the fused cells on the CPU), outputs and gradients agree with the CPU's within a
 * few roundings of the low type; and AdamW's working copies follow the master weights through its fused update.
 * Tagged "gpu"; skips without one.
 */
@Tag("gpu")
class CudaAutocastGpuTest {

    @ParameterizedTest @ValueSource(strings = {"F16", "BF16"})
    void linearAndLstmUnderAutocastMatchTheCpu(String name) {
        DType t = DType.valueOf(name);
        long seed = System.nanoTime();
        System.out.println("CudaAutocastGpuTest seed " + seed);
        Device gpu = new Device(GpuBackends.cuda()), cpu = new Device(GpuBackends.cpu());
        List<double[]> onCpu = run(cpu, t, seed), onGpu = run(gpu, t, seed);
        double ulp = t == DType.F16 ? 0x1p-11 : 0x1p-8;
        for (int i = 0; i < onCpu.size(); i++) {
            double[] a = onCpu.get(i), b = onGpu.get(i);
            double scale = 0;
            for (double v : a) scale = Math.max(scale, Math.abs(v));
            for (int j = 0; j < a.length; j++)
                assertEquals(a[j], b[j], 8 * ulp * scale + 1e-6, "value " + i + "[" + j + "]");
        }
    }

    /** Output and every gradient of a Linear layer, then of an LSTM, under autocast on {@code device}. */
    private static List<double[]> run(Device device, DType t, long seed) {
        List<double[]> out = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(seed);
            ParamSpec spec = new ParamSpec(device, DType.F32, gen);
            Linear lin = new Linear(24, 8, spec);
            LSTM lstm = new LSTM(8, 8, 1, spec);
            Tensor x = Tensor.randn(gen, device, 6, 24);
            Tensor y, h;
            try (Autocast.Guard g = Autocast.enable(t)) {
                y = lin.call(x);
                h = lstm.call(y.to(DType.F32).reshape(2, 3, 8));
            }
            out.add(y.to(DType.F32).toDoubleArray());
            out.add(h.toDoubleArray());
            h.mul(Tensor.randn(gen, device, 2, 3, 8)).sum().backward();
            for (Module m : List.of(lin, lstm)) for (Tensor p : m.parameters()) out.add(p.grad().toDoubleArray());
        }
        return out;
    }

    @ParameterizedTest @ValueSource(strings = {"F16", "BF16"})
    void workingCopiesFollowTheFusedUpdate(String name) {
        DType t = DType.valueOf(name);
        Device gpu = new Device(GpuBackends.cuda());
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(System.nanoTime());
            Linear lin = new Linear(16, 8, new ParamSpec(gpu, DType.F32, gen));
            try (AdamW opt = new AdamW(lin.parameters(), 1e-2)) {
                opt.keepWorkingCopies(t);
                for (int step = 0; step < 2; step++) {
                    opt.zeroGrad();
                    try (Autocast.Guard g = Autocast.enable(t)) {
                        lin.call(Tensor.randn(gen, gpu, 4, 16)).to(DType.F32).square().mean().backward();
                    }
                    opt.stepAsync(null, null);
                    double[] expected = lin.weight().to(t).to(DType.F32).toDoubleArray();
                    double[] copy;
                    try (Autocast.Guard g = Autocast.enable(t)) {
                        copy = Autocast.weight(lin.weight()).to(DType.F32).toDoubleArray();
                    }
                    assertArrayEquals(expected, copy, "the working copy after step " + step);
                }
            }
        }
    }
}
