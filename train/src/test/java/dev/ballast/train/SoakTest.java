package dev.ballast.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.Device;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.CheckpointFiles;
import dev.ballast.engine.io.SafeTensors;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long run that must lose nothing: 20,000 steps of the spirals MLP with non-finite gradients injected at seeded
 * steps (skipped by the chain), a checkpoint every 100 steps, all kept. Afterwards every checkpoint is finite and
 * loads; native memory is flat and RSS does not grow after warm-up; and resuming from five seeded, printed
 * checkpoints for 200 steps gives bit-for-bit the uninterrupted run's checkpoint 200 steps later. Minutes on two
 * cores, so tagged slow: {@code scripts/test.sh -pl train -am -Dballast.test.excludedGroups=nothing -Dtest=SoakTest
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("slow")
class SoakTest {
    static final long STEPS = Long.getLong("ballast.soak.steps", 20_000);
    static final long EVERY = 100;
    static final long SEED = Long.getLong("ballast.soak.seed", 20261130);
    @TempDir Path dir;

    static TrainConfig config() {
        return TrainConfig.resolve(Map.of("task", "spirals", "depth", 6, "width", 32, "trainSize", 2048, "testSize", 256,
                "device", "cpu", "seed", 5));
    }

    /** Steps whose gradients get a NaN or an infinity (about one in a hundred), from the seed. */
    static Set<Long> faultSteps() {
        SplittableRandom r = new SplittableRandom(SEED);
        Set<Long> s = new TreeSet<>();
        for (long i = 1; i <= STEPS; i++) if (r.nextInt(100) == 0) s.add(i);
        return s;
    }

    /**
     * Trains {@code run} from its current state (step {@code from}) to {@code to}, checkpointing every 100 steps
     * into {@code files}; {@code sample} sees the step after each iteration. Returns the trainer's result.
     */
    static Trainer.Result train(BuiltinTraining run, long from, long to, CheckpointFiles files, Set<Long> faults,
                                java.util.function.LongConsumer sample) {
        AtomicLong step = new AtomicLong();
        long perEpoch = run.loader().batchesPerEpoch();
        var model = run.model();
        GradientChain chain = GradientChain.of(Link.skipIfNonFinite(), Link.apply(run.optimizer()));
        return Trainer.builder(model.parameters(), run.optimizer(), run.loader(), b -> {
                    step.set(b.epoch() * perEpoch + b.index() + 1);
                    return run.task().loss(model.call(b.inputs()), b.targets());
                })
                .maxSteps(to).startIteration(from).schedule(run.schedule()).logEvery(1000)
                .gradTransform(params -> {
                    if (faults.contains(step.get())) {
                        try (GradMode.Guard ng = GradMode.noGrad()) {
                            Tensor g = params.get((int) (step.get() % params.size())).grad();
                            g.fill(step.get() % 2 == 0 ? Double.NaN : Double.POSITIVE_INFINITY);
                        }
                    }
                    sample.accept(step.get());
                })
                .stepFunction(chain::step)
                .checkpoint(EVERY, files.pointer(), model.stateDict(), run.generator()).checkpointKeep(files.keep())
                .progress(new ProgressReporter(System.err, to, false))
                .build().run();
    }

    static long rssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", ""));
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    static Map<String, int[]> bits(Path checkpoint) throws IOException {
        Map<String, int[]> out = new TreeMap<>();
        try (SafeTensors.Contents c = SafeTensors.read(checkpoint, Device.cpu())) {
            for (var e : c.tensors().entrySet()) {
                if (!e.getValue().dtype().isFloating()) {
                    out.put(e.getKey(), java.util.Arrays.stream(e.getValue().toLongArray()).mapToInt(Math::toIntExact).toArray());
                    continue;
                }
                float[] f = e.getValue().toFloatArray();
                int[] b = new int[f.length];
                for (int i = 0; i < f.length; i++) {
                    assertTrue(Float.isFinite(f[i]), checkpoint + " " + e.getKey() + "[" + i + "] = " + f[i]);
                    b[i] = Float.floatToRawIntBits(f[i]);
                }
                out.put(e.getKey(), b);
            }
        }
        return out;
    }

    @Test
    void twentyThousandStepsWithFaultsLoseNothingAndResumeBitExactly() throws IOException {
        Set<Long> faults = faultSteps();
        System.out.println("soak: " + STEPS + " steps, seed " + SEED + ", " + faults.size() + " injected non-finite gradients");
        CheckpointFiles files = new CheckpointFiles(dir.resolve("soak/run.safetensors"), Integer.MAX_VALUE);
        List<long[]> samples = new ArrayList<>(); // step, RSS kB, native bytes
        Trainer.Result r;
        try (BuiltinTraining run = BuiltinTraining.create(config())) {
            r = train(run, 0, STEPS, files, faults, s -> {
                if (s % 1000 == 0) samples.add(new long[]{s, rssKb(), Device.cpu().backend().allocatedBytes()});
            });
        }
        System.out.println("soak: " + r.optimizerSteps() + " steps taken, " + r.skippedSteps() + " skipped, final loss " + r.lastLoss()
                + ", " + r.seconds() + " s");
        for (long[] s : samples) System.out.printf("soak: step %6d  RSS %,d kB  native %,d bytes%n", s[0], s[1], s[2]);
        assertEquals(faults.size(), r.skippedSteps(), "every injected fault skipped its step, and nothing else was skipped");
        assertTrue(r.lastLoss() < 0.5, "it still learned: loss " + r.lastLoss());
        // memory: native bytes identical after warm-up; RSS grows by less than 64 MB after it
        long[] warm = samples.get(samples.size() / 4);
        for (long[] s : samples.subList(samples.size() / 4, samples.size())) {
            assertEquals(warm[2], s[2], "native bytes at step " + s[0]);
            if (warm[1] > 0) assertTrue(s[1] - warm[1] < 64 * 1024, "RSS grew from " + warm[1] + " kB to " + s[1] + " kB by step " + s[0]);
        }
        // every checkpoint: present, finite, loadable
        TreeMap<Long, Path> kept = files.stepFiles();
        assertEquals(STEPS / EVERY, kept.size());
        for (var e : kept.entrySet()) {
            assertEquals(e.getKey(), Checkpoint.inspect(e.getValue()).step());
            bits(e.getValue());
        }
        try (BuiltinTraining fresh = BuiltinTraining.create(config())) {
            Checkpoint.load(kept.lastEntry().getValue(), fresh.model().stateDict(), fresh.optimizer(), fresh.generator());
        }
        // resume from five seeded checkpoints: 200 steps each, bit-exact against the uninterrupted run
        SplittableRandom pick = new SplittableRandom(SEED + 1);
        for (int k = 0; k < 5; k++) {
            long from = EVERY * (1 + pick.nextLong(STEPS / EVERY - 2));
            long to = from + 2 * EVERY;
            System.out.println("soak: resuming from step " + from + " to " + to);
            CheckpointFiles again = new CheckpointFiles(dir.resolve("resume-" + k + "/run.safetensors"), 5);
            try (BuiltinTraining run = BuiltinTraining.create(config())) {
                assertEquals(from, Checkpoint.load(files.stepFile(from), run.model().stateDict(), run.optimizer(), run.generator()).step());
                train(run, from, to, again, faults, s -> { });
            }
            Map<String, int[]> want = bits(files.stepFile(to)), got = bits(again.stepFile(to));
            assertEquals(want.keySet(), got.keySet());
            for (String name : want.keySet())
                assertTrue(java.util.Arrays.equals(want.get(name), got.get(name)), "resumed at " + from + ": " + name + " differs at " + to);
        }
    }
}
