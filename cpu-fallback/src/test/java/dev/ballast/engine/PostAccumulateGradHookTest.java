package dev.ballast.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Post-accumulate-grad hooks run once per backward per leaf, with the leaf's final gradient in {@code grad()}. */
class PostAccumulateGradHookTest {
    static final Device CPU = Device.cpu();

    @Test
    void aLeafUsedTwiceHearsOnceWithBothContributionsAccumulated() {
        try (Tensor w = Tensor.fromArray(CPU, new float[]{1, 2, 3}, 3).requiresGrad(true);
             Tensor v = Tensor.fromArray(CPU, new float[]{4, 5, 6}, 3).requiresGrad(true)) {
            List<String> heard = new ArrayList<>();
            List<float[]> seen = new ArrayList<>();
            var hw = w.registerPostAccumulateGradHook(t -> {
                heard.add("w");
                seen.add(t.grad().toFloatArray());
            });
            v.registerPostAccumulateGradHook(t -> heard.add("v"));
            // loss = sum(w * w) + sum(w * v): dL/dw = 2w + v, dL/dv = w; w's gradient comes from two ops
            w.mul(w).sum().add(w.mul(v).sum()).backward();
            assertEquals(2, heard.size());
            assertEquals(1, heard.stream().filter("w"::equals).count(), "once per backward, not once per use");
            assertArrayEquals(new float[]{6, 9, 12}, seen.getFirst(), "the final gradient of this backward");
            assertArrayEquals(new float[]{6, 9, 12}, w.grad().toFloatArray());
            hw.close();
            w.zeroGrad();
            w.mul(v).sum().backward();
            assertEquals(1, heard.stream().filter("w"::equals).count(), "a removed hook stays quiet: " + heard);
            assertEquals(2, heard.stream().filter("v"::equals).count(), heard.toString());
        }
    }

    @Test
    void onlyLeavesTakeThem() {
        try (Tensor w = Tensor.fromArray(CPU, new float[]{1, 2}, 2).requiresGrad(true)) {
            Tensor y = w.mul(2);
            var e = assertThrows(IllegalStateException.class, () -> y.registerPostAccumulateGradHook(t -> {}));
            assertTrue(e.getMessage().contains("for leaf tensors"), e.getMessage());
        }
    }
}
