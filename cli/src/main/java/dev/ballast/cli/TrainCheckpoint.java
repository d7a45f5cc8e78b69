package dev.ballast.cli;

import dev.ballast.engine.io.Checkpoint;
import dev.ballast.engine.io.CheckpointFiles;
import dev.ballast.engine.io.Json;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import dev.ballast.engine.Tensor;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code ballast train} does with {@code --checkpoint}, {@code --resume}, {@code --overwrite} and {@code --keep}:
 * refuses to replace an existing checkpoint unless told which ({@link #check()}), reads the settings a resumed run
 * starts from ({@link #savedSettings()}), restores the model, optimizer and generator ({@link #restore}) and wires
 * the rotation into the trainer ({@link #configure}). The resolved settings go into every checkpoint under
 * {@link #CONFIG_KEY}, so {@code --resume} needs no other flags.
 */
final class TrainCheckpoint {
    /** Checkpoint metadata holding the run's {@link TrainConfig} as JSON. */
    static final String CONFIG_KEY = "ballast.train_config";

    /** A usage problem: exit 2 with this message. */
    static final class UsageException extends Exception {
        UsageException(String message) { super(message); }
    }

    private final Path path;
    private final boolean resume;
    private final boolean overwrite;
    private final int keep;
    private Path resumeFrom;
    private Checkpoint.Info info;

    TrainCheckpoint(Path path, boolean resume, boolean overwrite, int keep) {
        this.path = path;
        this.resume = resume;
        this.overwrite = overwrite;
        this.keep = keep;
    }

    /**
     * Checks the flags against what is on disk, before anything is built: a checkpoint that exists is never replaced
     * unless {@code --resume} (continue it) or {@code --overwrite} (start afresh) says so. Reads and verifies the
     * checkpoint to resume from (IOException for a damaged file).
     */
    void check() throws UsageException, IOException {
        if (resume && overwrite) throw new UsageException("--resume and --overwrite exclude each other: continue the run or start afresh");
        if (keep < 1) throw new UsageException("--keep must be >= 1, got " + keep);
        if (path == null) {
            if (resume || overwrite) throw new UsageException((resume ? "--resume" : "--overwrite") + " needs --checkpoint FILE.safetensors");
            return;
        }
        CheckpointFiles files = new CheckpointFiles(path, keep);
        try {
            files.checkWritable();
        } catch (IOException e) {
            throw new UsageException(e.getMessage() + " (--checkpoint)");
        }
        if (!files.exists() || overwrite) return;
        if (!resume) {
            Optional<Path> latest = files.latest();
            String at = "";
            if (latest.isPresent()) {
                try {
                    at = " (step " + Checkpoint.inspect(latest.get()).step() + ")";
                } catch (IOException e) {
                    at = " (unreadable: " + e.getMessage() + ")";
                }
            }
            throw new UsageException("checkpoint " + path + " already exists" + at + "; add --resume to continue that run"
                    + " or --overwrite to start afresh and replace it");
        }
        Optional<Path> latest = files.latest();
        if (latest.isEmpty()) return;
        resumeFrom = latest.get();
        info = Checkpoint.inspect(resumeFrom);
    }

    /** The settings saved in the checkpoint being resumed (empty when starting afresh). */
    Map<String, Object> savedSettings() throws IOException {
        if (info == null) return Map.of();
        String json = info.metadata().get(CONFIG_KEY);
        if (json == null) throw new IOException("checkpoint " + resumeFrom + " holds no '" + CONFIG_KEY + "' settings: it was not written by"
                + " ballast train; load it from Java with Checkpoint.load");
        try {
            return new LinkedHashMap<>(Json.parseObject(json));
        } catch (IllegalArgumentException e) {
            throw new IOException("checkpoint " + resumeFrom + ": bad '" + CONFIG_KEY + "' settings: " + e.getMessage());
        }
    }

    /** The step the run starts at: the checkpoint's when resuming, else 0. */
    long startStep() { return info == null ? 0 : info.step(); }

    /** Where the run resumes from, or null. */
    Path resumeFrom() { return resumeFrom; }

    /**
     * Loads the checkpoint into {@code run} (model, optimizer, generator, chain state; checked first, so a mismatch changes
     * nothing) and then re-applies the settings' learning rate and weight decay, which flags may have changed.
     */
    void restore(BuiltinTraining run, TrainConfig c) throws IOException {
        if (resumeFrom == null) return;
        // with the chain's link state and skip counters (extra.*), restored in place
        Checkpoint.load(resumeFrom, run.model().stateDict(), run.optimizer(), run.generator(), run.chain().stateDict());
        for (var g : run.optimizer().paramGroups()) {
            g.setLr(c.lr());
            g.setWeightDecay(c.weightDecay());
        }
    }

    /** Rotation, start step and the settings as metadata. */
    void configure(Trainer.Builder b, BuiltinTraining run, TrainConfig c, Map<String, Tensor> state) {
        b.startIteration(startStep());
        if (path == null) return;
        b.checkpoint(c.effectiveEvalEvery(), path, state, run.generator())
                .checkpointKeep(keep)
                .checkpointMetadata(Map.of(CONFIG_KEY, Json.write(c.toMap())));
    }

    /** Checks that a metrics file can be written before training; a usage problem otherwise. */
    static void checkMetrics(Path metrics) throws UsageException {
        if (metrics == null) return;
        Path abs = metrics.toAbsolutePath();
        if (Files.isDirectory(abs)) throw new UsageException("--metrics " + metrics + " is a directory");
        for (Path p = abs.getParent(); p != null; p = p.getParent()) {
            if (Files.exists(p) && !Files.isDirectory(p)) throw new UsageException("--metrics " + metrics + " cannot be written: " + p + " is a file");
            if (Files.isDirectory(p)) {
                if (!Files.isWritable(p) && !Files.exists(abs))
                    throw new UsageException("--metrics " + metrics + " cannot be written: the directory " + p + " is not writable");
                break;
            }
        }
        if (Files.exists(abs) && !Files.isWritable(abs)) throw new UsageException("--metrics " + metrics + " is not writable");
    }
}
