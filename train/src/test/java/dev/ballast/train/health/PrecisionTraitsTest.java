package dev.ballast.train.health;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ballast.train.builtin.TrainConfig;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The diagnosis knows when a run scales its loss (fp16 only), so it can offer or skip the loss-scaling cure. */
class PrecisionTraitsTest {
    @ParameterizedTest @CsvSource({"fp32,false", "bf16,false", "fp16,true"})
    void lossScalingFollowsThePrecision(String precision, boolean scaled) {
        TrainConfig c = TrainConfig.resolve(Map.of("task", "spirals", "precision", precision));
        assertEquals(scaled, HealthSession.traits(c).lossScaling());
    }
}
