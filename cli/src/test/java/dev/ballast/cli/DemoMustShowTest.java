package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.train.report.Report;
import dev.ballast.train.report.RunFiles;
import dev.ballast.train.report.RunLog;
import dev.ballast.train.report.StepRecord;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The full {@code ballast demo} (several minutes on 2 cores, so tagged slow) and what its table must show: the
 * careless deep MLP near chance with its exploding norms named, the cures at >= 95% test accuracy; at least 2 of 4
 * unclipped RNN seeds diverging and none of the clipped ones; the LSTM at test MSE under 0.01; every precision at
 * >= 95%, no first-layer gradient lost in fp32 or bf16, at most 5% with loss scaling, and the scaled fp16 loss curve
 * following fp32's; on the calibration model, fp16 without scaling losing at least half of the first layer's
 * gradients (median over the logged steps) and at most 5% with dynamic scaling.
 */
@Tag("slow")
class DemoMustShowTest {
    @TempDir Path dir;

    private static double medianZeros(RunLog l) {
        double[] z = l.steps().stream().mapToDouble(s -> s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS)).filter(Double::isFinite).sorted().toArray();
        return z.length == 0 ? Double.NaN : z.length % 2 == 1 ? z[z.length / 2] : (z[z.length / 2 - 1] + z[z.length / 2]) / 2;
    }

    private static double maxZeros(RunLog l) {
        return l.steps().stream().mapToDouble(s -> s.extra(StepRecord.FIRST_LAYER_ZERO_GRADS)).filter(Double::isFinite).max().orElse(Double.NaN);
    }

    @Test void fullDemoShowsEveryStory() {
        Path out = dir.resolve("demo");
        Run r = Run.of("demo", "--out", out.toString());
        System.out.println(r.out());
        assertEquals(0, r.exitCode(), r.err());
        Report report = RunFiles.read(out);
        List<RunLog> depth = report.sections().get(1).runs();
        RunLog careless = depth.getFirst();
        assertTrue(careless.lastEval("accuracy") < 0.7 || careless.divergedAt() > 0, "careless run: " + careless.summary());
        assertEquals("exploding", careless.findings().getFirst().kind(), careless.findings().toString());
        for (RunLog cure : depth.subList(1, depth.size()))
            assertTrue(cure.lastEval("accuracy") >= 0.95, cure.title() + ": test accuracy " + cure.lastEval("accuracy"));

        List<RunLog> rec = report.sections().get(2).runs();
        long unclippedDiverged = rec.stream().filter(l -> l.name().startsWith("rnn-noclip") && l.divergedAt() > 0).count();
        long clippedDiverged = rec.stream().filter(l -> l.name().startsWith("rnn-clip1") && l.divergedAt() > 0).count();
        assertTrue(unclippedDiverged >= 2, "unclipped seeds diverged: " + unclippedDiverged);
        assertEquals(0, clippedDiverged, "clipped seeds diverged");
        RunLog lstm = rec.getLast();
        assertTrue(lstm.lastEval("mse") < 0.01, "LSTM test MSE " + lstm.lastEval("mse"));

        List<RunLog> precision = report.sections().get(3).runs();
        RunLog fp32 = precision.get(0), bf16 = precision.get(1), scaled = precision.get(2);
        for (RunLog p : precision.subList(0, 4)) assertTrue(p.lastEval("accuracy") >= 0.95, p.title() + ": test accuracy " + p.lastEval("accuracy"));
        assertEquals(0.0, maxZeros(fp32), "fp32 loses no first-layer gradient");
        assertEquals(0.0, maxZeros(bf16), "bf16 has fp32's exponent range");
        assertTrue(maxZeros(scaled) <= 0.05, "the loss scale keeps the first layer's gradients: " + maxZeros(scaled));
        assertTrue(DemoStories.meanLossGap(scaled, fp32) <= DemoStories.FOLLOWS_FP32,
                "scaled fp16 follows fp32: mean |loss diff| " + DemoStories.meanLossGap(scaled, fp32));
        assertTrue(scaled.steps().stream().allMatch(s -> s.lossScale() > 0), "the scaled run logs its loss scale");
        RunLog calibUnscaled = precision.get(4), calibScaled = precision.get(5);
        assertTrue(medianZeros(calibUnscaled) >= 0.5, "fp16 without scaling loses most first-layer gradients of the calibration "
                + "model: median " + medianZeros(calibUnscaled));
        assertTrue(maxZeros(calibScaled) <= 0.05, "with dynamic scaling at most 5%: " + maxZeros(calibScaled));
    }
}
