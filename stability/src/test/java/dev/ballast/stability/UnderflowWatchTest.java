package dev.ballast.stability;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.HalfFloats;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.stability.scale.UnderflowWatch;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The underflow watch counts exactly the values that fp16 rounds to zero at a power-of-two scale (random magnitudes). */
class UnderflowWatchTest {
    static final Device CPU = Device.cpu();

    @Test void countsWhatFp16FlushesAtTheScale() {
        long seed = System.nanoTime();
        System.err.println("UnderflowWatchTest seed " + seed);
        SplittableRandom rnd = new SplittableRandom(seed);
        try (Scope s = Scope.open()) {
            Map<String, Tensor> named = new LinkedHashMap<>();
            double[][] values = new double[2][];
            for (int k = 0; k < 2; k++) {
                double[] v = new double[3000];
                for (int i = 0; i < v.length; i++) {
                    // magnitudes 2^-45 .. 2^-5, random signs, some exact zeros; none exactly on a power of two
                    v[i] = i % 50 == 0 ? 0 : (rnd.nextBoolean() ? 1 : -1) * Math.pow(2, -45 + 40 * rnd.nextDouble()) * 1.0000001;
                    v[i] = (float) v[i];
                }
                values[k] = v;
                Tensor w = Tensor.zeros(CPU, DType.F32, v.length).requiresGrad(true);
                w.setGrad(Tensor.fromArray(CPU, DType.F32, v, v.length));
                named.put("p" + k, w);
            }
            for (double scale : new double[]{1, 1024, 65536}) {
                List<UnderflowWatch.Underflow> u = UnderflowWatch.measure(named, scale);
                for (int k = 0; k < 2; k++) {
                    long flush = 0, zeros = 0;
                    for (double v : values[k]) {
                        if (v == 0) zeros++;
                        else if ((HalfFloats.doubleToF16(v * scale) & 0x7FFF) == 0) flush++; // rounds to +-0 in fp16
                    }
                    assertEquals("p" + k, u.get(k).name());
                    assertEquals(flush, u.get(k).flushing(), "scale " + scale + ", p" + k);
                    assertEquals(zeros, u.get(k).zeros());
                    assertEquals(flush / 3000.0, u.get(k).fraction(), 1e-12);
                }
            }
        }
    }
}
