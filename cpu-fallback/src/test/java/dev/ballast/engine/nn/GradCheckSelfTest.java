package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Generator;
import dev.ballast.engine.GradCheck;
import dev.ballast.engine.Tensor;
import java.util.Random;
import org.opentest4j.AssertionFailedError;
import org.junit.jupiter.api.Test;

/** The gradient checker catches a wrong gradient and a non-deterministic function (so its passes mean something). */
class GradCheckSelfTest {
    private final Random rng = new Random(5);

    @Test
    void catchesAWrongGradient() {
        Tensor x = GradCheck.normal(rng, 3, 4);
        // detach() hides one factor from autograd: the analytic gradient is x, the true one 2x
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> GradCheck.check("wrong", () -> x.detach().mul(x), x));
        assertTrue(e.getMessage().contains("differ from finite differences"), e.getMessage());
    }

    @Test
    void catchesAMissingGradient() {
        Tensor x = GradCheck.normal(rng, 2), y = GradCheck.normal(rng, 2);
        assertThrows(AssertionFailedError.class, () -> GradCheck.check("missing", () -> x.mul(y.detach()), x, y));
    }

    @Test
    void catchesNonDeterminism() {
        Tensor x = GradCheck.normal(rng, 10);
        Dropout shared = new Dropout(0.5, new Generator(1)); // its stream advances between evaluations
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> GradCheck.check("dropout", () -> shared.call(x), x));
        assertTrue(e.getMessage().contains("not deterministic"), e.getMessage());
    }
}
