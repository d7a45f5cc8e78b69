package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.Batch;
import dev.ballast.engine.data.DataLoader;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.TeacherStudent;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.Json;
import dev.ballast.engine.optim.Adam;
import dev.ballast.engine.optim.SGD;
import dev.ballast.engine.backend.LrSchedule;
import java.io.IOException;
import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop: it learns, logs JSON lines, calls its hooks, and resumes bit-exactly from a checkpoint. */
class TrainerTest {
    static final Device CPU = Device.cpu();
    @TempDir Path dir;

    /** A linear regression model y = x W + b with seeded random initial weights. */
    static Map<String, Tensor> linear(int in, int out, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] w = new double[in * out];
        for (int i = 0; i < w.length; i++) w[i] = (r.nextDouble() - 0.5) * 0.2;
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", Tensor.fromArray(CPU, DType.F32, w, in, out).requiresGrad(true));
        m.put("bias", Tensor.zeros(CPU, DType.F32, out).requiresGrad(true));
        return m;
    }

    static Function<Batch, Tensor> mse(Map<String, Tensor> m, Generator noise) {
        return b -> {
            Tensor pred = b.inputs().matmul(m.get("weight")).add(m.get("bias"));
            Tensor diff = pred.sub(b.targets());
            if (noise != null) diff = diff.add(Tensor.randn(noise, CPU, diff.shape()).mul(0.01));
            return diff.square().mean();
        };
    }

    @Test
    void learnsLogsAndCallsHooks() throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 256, 4, 8, 2, 0.0, 5)) {
            Map<String, Tensor> m = linear(4, 2, 1);
            List<Tensor> params = List.copyOf(m.values());
            DataLoader loader = new DataLoader(data, 32, true, true, 3);
            AtomicInteger transforms = new AtomicInteger();
            AtomicInteger evals = new AtomicInteger();
            StringWriter metrics = new StringWriter();
            ByteArrayOutputStream bar = new ByteArrayOutputStream();
            Function<Batch, Tensor> loss = mse(m, null);
            double initial;
            try (dev.ballast.engine.Scope s = dev.ballast.engine.Scope.open()) {
                initial = loss.apply(new Batch(data.inputs(), data.targets(), 0, 0)).item();
            }
            try (Adam opt = new Adam(params, 0.05)) {
                Trainer.Result r = Trainer.builder(params, opt, loader, loss)
                        .maxEpochs(5)
                        .schedule(LrSchedule.cosine(40, 0.001).withWarmup(5))
                        .gradTransform(ps -> {
                            transforms.incrementAndGet();
                            assertTrue(ps.stream().allMatch(p -> p.grad() != null), "grads exist when the transform runs");
                        })
                        .eval(16, () -> {
                            evals.incrementAndGet();
                            return Map.of("mse", loss.apply(new Batch(data.inputs(), data.targets(), 0, 0)).item());
                        })
                        .metrics(metrics).logEvery(4).trackGradNorm(true)
                        .progress(new ProgressReporter(new PrintStream(bar), 40, true))
                        .build().run();
                assertEquals(40, r.iterations());
                assertEquals(40, r.optimizerSteps());
                assertEquals(0, r.skippedSteps());
                assertEquals(40, transforms.get());
                assertEquals(3, evals.get(), "at 16, 32 and the end");
                assertTrue(r.lastEval().get("mse") < initial * 0.5, "loss fell: " + initial + " -> " + r.lastEval());
            }
            String[] lines = metrics.toString().split("\n");
            assertEquals(10, lines.length);
            Map<String, Object> first = Json.parseObject(lines[0]);
            assertEquals(4L, first.get("step"));
            for (String k : List.of("epoch", "optimizer_step", "loss", "lr", "grad_norm", "skipped", "time_s")) assertTrue(first.containsKey(k), k);
            assertEquals(LrSchedule.cosine(40, 0.001).withWarmup(5).lr(3, 0.05), (Double) first.get("lr"), 1e-12);
            Map<String, Object> lastLine = Json.parseObject(lines[lines.length - 1]);
            assertEquals(40L, lastLine.get("step"));
            assertTrue(lastLine.containsKey("eval_mse"));
            String drawn = bar.toString();
            assertTrue(drawn.startsWith("\r") && drawn.contains("40/40") && drawn.contains("loss"), drawn);
        }
    }

    /**
     * {@code trackGradNorm} reports the norm of the unscaled gradients when a loss scaler scales the loss: the same
     * run with and without a scale of 2^10 (torch's scaler.step / update flow; a power of two, so training is the same
     * bits) logs the same gradient norms, not 1024 times larger ones.
     */
    @Test
    void trackedGradNormIsDividedByTheLossScale() {
        List<List<Double>> runs = new ArrayList<>();
        for (boolean scaled : new boolean[] {false, true}) {
            try (Dataset data = TeacherStudent.generate(CPU, 128, 3, 4, 1, 0.0, 21)) {
                Map<String, Tensor> m = linear(3, 1, 8);
                List<Tensor> params = List.copyOf(m.values());
                StringWriter metrics = new StringWriter();
                try (SGD opt = new SGD(params, 0.05);
                     dev.ballast.stability.scale.GradScaler sc = new dev.ballast.stability.scale.GradScaler(CPU, 1024, 2, 0.5, 2000)) {
                    Trainer.Builder b = Trainer.builder(params, opt, new DataLoader(data, 16, false, false, 0), mse(m, null))
                            .maxSteps(8).logEvery(2).trackGradNorm(true).metrics(metrics);
                    if (scaled) b.lossScaler(sc).stepFunction(() -> {
                        sc.step(opt);
                        sc.update();
                    });
                    b.build().run();
                }
                List<Double> norms = new ArrayList<>();
                for (String l : metrics.toString().split("\n")) norms.add(((Number) Json.parseObject(l).get("grad_norm")).doubleValue());
                runs.add(norms);
            }
        }
        assertEquals(4, runs.get(0).size());
        for (int i = 0; i < 4; i++)
            assertEquals(runs.get(0).get(i), runs.get(1).get(i), 1e-6 * runs.get(0).get(i), "logged grad_norm " + i + ": " + runs);
    }

    @Test
    void skippedStepsAreCountedAndMetricsGoToAFile() throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 64, 3, 4, 1, 0.0, 9)) {
            Map<String, Tensor> m = linear(3, 1, 2);
            List<Tensor> params = List.copyOf(m.values());
            try (SGD opt = new SGD(params, 0.1)) {
                AtomicInteger calls = new AtomicInteger();
                Path file = dir.resolve("runs/metrics.jsonl");
                Trainer.Result r = Trainer.builder(params, opt, new DataLoader(data, 16, false, false, 0), mse(m, null))
                        .maxSteps(6).logEvery(1).metrics(file).progress(new ProgressReporter(System.err, 6, false))
                        .stepFunction(() -> {
                            if (calls.incrementAndGet() % 3 != 0) opt.step(); // every third step is skipped
                        })
                        .build().run();
                assertEquals(6, r.iterations());
                assertEquals(4, r.optimizerSteps());
                assertEquals(2, r.skippedSteps());
                List<String> lines = Files.readAllLines(file);
                assertEquals(6, lines.size());
                assertEquals(true, Json.parseObject(lines.get(2)).get("skipped"));
                assertEquals(false, Json.parseObject(lines.get(3)).get("skipped"));
            }
        }
    }

    @Test
    void needsALimit() {
        try (Dataset data = TeacherStudent.generate(CPU, 8, 2, 2, 1, 0.0, 1)) {
            Map<String, Tensor> m = linear(2, 1, 1);
            List<Tensor> params = List.copyOf(m.values());
            try (SGD opt = new SGD(params, 0.1)) {
                var b = Trainer.builder(params, opt, new DataLoader(data, 4, false, false, 0), mse(m, null));
                assertThrows(IllegalArgumentException.class, b::build);
                assertThrows(IllegalArgumentException.class, () -> b.maxSteps(0));
            }
        }
    }

    @Test
    void progressLineRendering() {
        assertEquals("  0% [>                             ] 0/10 x", ProgressReporter.render(0, 10, "x"));
        String half = ProgressReporter.render(5, 10, "loss 1");
        assertTrue(half.startsWith(" 50% [===============>") && half.endsWith("5/10 loss 1"), half);
        assertTrue(ProgressReporter.render(10, 10, "").startsWith("100% [=============================="));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProgressReporter off = new ProgressReporter(new PrintStream(out), 10, false);
        off.update(5, "x");
        off.finish();
        assertEquals(0, out.size(), "a disabled reporter draws nothing");
    }

    /** Weights after training with {@code plan}: segments of iterations, saving and reloading into fresh objects between them. */
    float[][] train(long total, long[] cuts, Path ckpt) throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 96, 5, 6, 3, 0.05, 21)) {
            DataLoader loader = new DataLoader(data, 10, true, false, 8); // 10 batches per epoch, the last one short
            LrSchedule schedule = LrSchedule.cosine(total, 0.001).withWarmup(3);
            long start = 0;
            List<Long> ends = new ArrayList<>();
            for (long c : cuts) ends.add(c);
            ends.add(total);
            float[][] result = null;
            for (long end : ends) {
                Map<String, Tensor> m = linear(5, 3, 77); // fresh parameters every segment
                Generator gen = new Generator(4242);
                List<Tensor> params = List.copyOf(m.values());
                try (Adam opt = new Adam(params, 0.02, 0.9, 0.99, 1e-8, 1e-3)) {
                    if (start > 0) {
                        Checkpoint.Info info = Checkpoint.load(ckpt, m, opt, gen);
                        assertEquals(start, info.step());
                    }
                    Trainer.builder(params, opt, loader, mse(m, gen)).schedule(schedule).maxSteps(end).startIteration(start)
                            .progress(new ProgressReporter(System.err, end, false)).build().run();
                    Checkpoint.save(ckpt, m, opt, end, gen);
                    result = new float[][]{m.get("weight").toFloatArray(), m.get("bias").toFloatArray()};
                }
                start = end;
            }
            return result;
        }
    }

    @Test
    void resumingFromACheckpointIsBitExact() throws IOException {
        long n = 24; // 2.4 epochs, so the resume point (12) is mid-epoch
        float[][] straight = train(n, new long[0], dir.resolve("a.safetensors"));
        float[][] resumed = train(n, new long[]{n / 2}, dir.resolve("b.safetensors"));
        float[][] twice = train(n, new long[]{5, 17}, dir.resolve("c.safetensors"));
        for (int i = 0; i < straight.length; i++) {
            assertEquals(straight[i].length, resumed[i].length);
            for (int k = 0; k < straight[i].length; k++) {
                assertEquals(Float.floatToRawIntBits(straight[i][k]), Float.floatToRawIntBits(resumed[i][k]),
                        "tensor " + i + " element " + k + ": " + straight[i][k] + " vs " + resumed[i][k]);
                assertEquals(Float.floatToRawIntBits(straight[i][k]), Float.floatToRawIntBits(twice[i][k]));
            }
        }
        // and the run did train: the weights moved away from their initial values
        Map<String, Tensor> init = linear(5, 3, 77);
        assertFalse(java.util.Arrays.equals(init.get("weight").toFloatArray(), straight[0]));
    }

    @Test
    void trainerWritesPeriodicCheckpoints() throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 40, 2, 3, 1, 0.0, 2)) {
            Map<String, Tensor> m = linear(2, 1, 3);
            List<Tensor> params = List.copyOf(m.values());
            Path ckpt = dir.resolve("ck/model.safetensors");
            try (SGD opt = new SGD(params, 0.05, 0.9, 0, 0, false)) {
                Trainer.builder(params, opt, new DataLoader(data, 8, true, false, 1), mse(m, null))
                        .maxSteps(7).checkpoint(3, ckpt, m, null).progress(new ProgressReporter(System.err, 7, false)).build().run();
            }
            Checkpoint.Info info = Checkpoint.inspect(ckpt);
            assertEquals(7, info.step());
            assertEquals("SGD", info.optimizerHyperparameters().get("type"));
        }
    }

    @Test
    void aNonFiniteLossBetweenLoggedStepsStopsTheRunBeforeTheNextCheckpoint() throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 40, 2, 3, 1, 0.0, 2)) {
            Map<String, Tensor> m = linear(2, 1, 3);
            List<Tensor> params = List.copyOf(m.values());
            Path ckpt = dir.resolve("nf/model.safetensors");
            Function<Batch, Tensor> fine = mse(m, null);
            AtomicInteger calls = new AtomicInteger();
            // iteration 7 (not logged: logEvery 100) has a NaN loss and its step is taken; saves come every 5
            Function<Batch, Tensor> loss = b -> calls.incrementAndGet() == 7 ? fine.apply(b).mul(Double.NaN) : fine.apply(b);
            try (SGD opt = new SGD(params, 0.05)) {
                DivergedException e = assertThrows(DivergedException.class, () -> Trainer.builder(params, opt,
                        new DataLoader(data, 8, true, false, 1), loss).maxSteps(30).logEvery(100).checkpoint(5, ckpt, m, null)
                        .progress(new ProgressReporter(System.err, 30, false)).build().run());
                assertEquals(10, e.step(), e.getMessage());
                assertTrue(e.getMessage().contains("loss was not finite at"), e.getMessage());
            }
            assertEquals(5, Checkpoint.inspect(ckpt).step(), "the checkpoint after the NaN was never written");
            assertFalse(Files.exists(dir.resolve("nf/model.step-00000010.safetensors")));
        }
    }

    /**
     * With a chain: its statistics are logged, the consecutive-skip limit stops the run at the logged read naming
     * the step and the parameter, and checkpoints hold the chain's state, restored in place.
     */
    @Test
    void chainStatsSkipLimitAndChainStateInCheckpoints() throws IOException {
        try (Dataset data = TeacherStudent.generate(CPU, 40, 2, 3, 1, 0.0, 2)) {
            Map<String, Tensor> m = linear(2, 1, 3);
            List<Tensor> params = List.copyOf(m.values());
            AtomicInteger calls = new AtomicInteger();
            Function<Batch, Tensor> good = mse(m, null);
            // from the 4th iteration on, the bias gradient is NaN: 0 * the bias inside a NaN-weighted sum
            Function<Batch, Tensor> poisoned = b -> calls.incrementAndGet() < 4 ? good.apply(b)
                    : good.apply(b).add(m.get("bias").mul(Double.NaN).sum());
            StringWriter metrics = new StringWriter();
            Path ckpt = dir.resolve("chain.safetensors");
            try (SGD opt = new SGD(params, 0.05);
                 var chain = dev.ballast.stability.chain.GradientChain.of(dev.ballast.stability.chain.Link.skipIfNonFinite(),
                         dev.ballast.stability.chain.Link.clipByGlobalNorm(0.5), dev.ballast.stability.chain.Link.apply(opt))
                         .maxConsecutiveSkips(3, List.of("weight", "bias"))) {
                Trainer t = Trainer.builder(params, opt, new DataLoader(data, 8, true, false, 1), poisoned)
                        .maxSteps(20).logEvery(1).chain(chain).metrics(metrics).checkpoint(2, ckpt, m, null)
                        .progress(new ProgressReporter(System.err, 20, false)).build();
                var e = assertThrows(dev.ballast.stability.chain.TooManySkippedStepsException.class, t::run);
                assertEquals(6, e.step(), e.getMessage());
                assertTrue(e.getMessage().contains("'bias'"), e.getMessage());
                assertEquals(3, opt.stepCount());
                String[] lines = metrics.toString().strip().split("\n");
                var first = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines[0]);
                assertTrue(first.get("grad_norm").asDouble() > 0 && first.get("clip_coefficient").asDouble() <= 1, lines[0]);
                var fifth = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines[4]);
                assertTrue(fifth.get("skipped").asBoolean(), lines[4]);
                assertEquals(2, fifth.get("consecutive_skips").asLong(), lines[4]);
                // the checkpoint at iteration 4 holds the chain's counters: 4 steps, 1 skipped
                Map<String, Tensor> live = chain.stateDict();
                Checkpoint.load(ckpt, m, opt, null, live);
                assertEquals(4, live.get("skips.steps").item());
                assertEquals(1, live.get("skips.total").item());
                assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(ckpt, m, opt, null, Map.of("other", Tensor.zeros(CPU, DType.F64))));
            }
        }
    }
}
