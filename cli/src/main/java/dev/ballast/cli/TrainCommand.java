package dev.ballast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ballast.dist.Communicators;
import dev.ballast.engine.dist.Communicator;
import dev.ballast.train.DataParallel;
import dev.ballast.train.Trainer;
import dev.ballast.train.builtin.BuiltinTraining;
import dev.ballast.train.builtin.ConfigException;
import dev.ballast.train.DivergedException;
import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.health.HealthSession;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.TooManySkippedStepsException;
import dev.ballast.train.report.Finding;
import dev.ballast.train.report.ReportPage;
import dev.ballast.train.report.RunFiles;
import dev.ballast.train.report.RunLog;
import dev.ballast.train.report.RunRecorder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast train}: trains a built-in model on a built-in task ({@link TrainConfig}) and prints a summary on
 * stdout (steps, final train loss, test metric, time, steps skipped). Settings come from the task's calibrated
 * defaults, then {@code --config FILE.json}, then flags. The trainer steps through the stability layer's
 * {@link GradientChain}, built from the flags in one documented order (skip non-finite, adaptive clipping, clip by
 * value, clip by norm, then the optimizer) or taken from the config file's explicit {@code chain} list;
 * {@code --print-config} shows the chain in effect. Exit codes: 0 trained, 2 bad configuration (message names the
 * key and what is allowed), 1 training diverged (non-finite loss), hit the consecutive-skip limit, or another failure.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a built-in model on a built-in task and print a summary.",
                "Defaults are the task's calibrated settings; --config FILE.json sets keys, flags override both.",
                "Example: ballast train --task adding --steps 2500 --out runs/adding"})
public final class TrainCommand implements Callable<Integer> {

    @Spec CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE.json", description = "JSON object of settings (keys as below, camelCase).")
    Path config;
    @Option(names = "--metrics", paramLabel = "FILE.jsonl", description = "Write JSON-lines metrics (loss every logEvery steps, test metrics).")
    Path metrics;
    @Option(names = "--checkpoint", paramLabel = "FILE.safetensors", description = {"Save model and optimizer at each evaluation and at the end,",
            "as FILE.step-N.safetensors with FILE pointing at the newest; never a non-finite one."})
    Path checkpoint;
    @Option(names = "--resume", description = "Continue the run saved at --checkpoint (--steps is the total; flags given override its settings).")
    boolean resume;
    @Option(names = "--overwrite", description = "Start afresh even though --checkpoint exists (its files are replaced once this run saves).")
    boolean overwrite;
    @Option(names = "--keep", paramLabel = "K", description = "Step-numbered checkpoints to keep (default ${DEFAULT-VALUE}).", defaultValue = "2")
    int keep;
    @Option(names = "--out", paramLabel = "RUN_DIR", description = "Write the run's report into RUN_DIR: metrics.jsonl, "
            + "metrics.csv, run.json and report.html (charts and findings; opens with no network). 'ballast report RUN_DIR' rebuilds it.")
    Path out;
    @Option(names = "--print-config", description = "Print the resolved settings as JSON and exit without training.")
    boolean printConfig;

    @Option(names = "--model", description = "mlp, resmlp, rnn, lstm, gru, transformer (default: the task's).") String model;
    @Option(names = "--task", description = "spirals (default), spirals-hard, adding, temporal-order, teacher-student, copy, sort.") String task;
    @Option(names = "--steps", description = "Training steps.") Long steps;
    @Option(names = "--batch", description = "Batch size.") Integer batch;
    @Option(names = "--lr", description = "Learning rate.") Double lr;
    @Option(names = "--optimizer", description = "sgd, adam, adamw.") String optimizer;
    @Option(names = "--momentum", description = "SGD momentum in [0, 1).") Double momentum;
    @Option(names = "--weight-decay", description = "Weight decay (L2; decoupled for adamw).") Double weightDecay;
    @Option(names = "--clip", description = "Max global L2 gradient norm; 0 = off.") Double clip;
    @Option(names = "--clip-value", description = "Clamp each gradient element to [-v, v]; 0 = off.") Double clipValue;
    @Option(names = "--skip-nonfinite", arity = "1", paramLabel = "true|false",
            description = "Skip a step whose gradients hold NaN or infinity (default true).") Boolean skipNonFinite;
    @Option(names = "--agc", description = "Unit-wise adaptive gradient clipping factor (e.g. 0.01); 0 = off.") Double agc;
    @Option(names = "--max-consecutive-skips", description = "Stop after this many skipped steps in a row; 0 = never.") Long maxConsecutiveSkips;
    @Option(names = "--schedule", description = "constant, cosine, step.") String schedule;
    @Option(names = "--warmup", description = "Linear warm-up steps; 0 = none.") Long warmup;
    @Option(names = "--seed", description = "Seed of data, init and shuffling.") Long seed;
    @Option(names = "--depth", description = "Hidden layers (mlp) or residual blocks (resmlp).") Integer depth;
    @Option(names = "--width", description = "Width of mlp/resmlp; model dimension of the transformer.") Integer width;
    @Option(names = "--hidden", description = "Hidden size of rnn/lstm/gru.") Integer hidden;
    @Option(names = "--layers", description = "Recurrent or transformer layers.") Integer layers;
    @Option(names = "--heads", description = "Attention heads (must divide --width).") Integer heads;
    @Option(names = "--seq-len", description = "Sequence length (adding, temporal-order, copy, sort).") Integer seqLen;
    @Option(names = "--vocab", description = "Symbols of copy/sort.") Integer vocab;
    @Option(names = "--init", description = "pytorch, xavier, kaiming, normal:<std>.") String init;
    @Option(names = "--activation", description = "tanh, relu, gelu (mlp/resmlp).") String activation;
    @Option(names = "--eval-every", description = "Evaluate every N steps; 0 = a tenth of the steps.") Long evalEvery;
    @Option(names = "--log-every", description = "Metrics line and loss check every N steps.") Long logEvery;
    @Option(names = "--train-size", description = "Training examples.") Integer trainSize;
    @Option(names = "--test-size", description = "Held-out test examples.") Integer testSize;
    @Option(names = "--device", description = "auto, cpu, cuda.") String device;
    @Option(names = "--precision", description = {"fp32 (default), bf16, fp16: matrix products in bf16/fp16 with fp32 master "
            + "weights (autocast); fp16 adds dynamic loss scaling (the chain starts with unscale)."}) String precision;
    @Option(names = "--loss-scale", paramLabel = "dynamic|none|S", description = {"fp16 only: dynamic (default), none (no "
            + "scaling: small gradients flush to zero), or a static scale S."}) String lossScale;
    @Mixin HealthOptions health;
    @Option(names = "--nproc", paramLabel = "N", description = {"Data-parallel on N processes of this machine, started with "
            + "Open MPI's mpirun; --batch stays the global batch. Under mpirun or srun the ranks are found without it."})
    Integer nproc;
    @Option(names = "--bucket-mb", paramLabel = "MB", description = {"Data-parallel: all-reduce the gradients in buckets of "
            + "about MB megabytes, each started as soon as backward has finished its gradients, while backward goes on "
            + "(PyTorch DDP's bucket_cap_mb; default ${DEFAULT-VALUE}); 0 = one all-reduce after backward."}, defaultValue = "25")
    double bucketMb;

    @Override public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (!(bucketMb >= 0) || Double.isInfinite(bucketMb)) {
            err.println("ballast train: --bucket-mb must be a number of megabytes >= 0 (0 = one all-reduce after backward), got " + bucketMb);
            return 2;
        }
        if (nproc != null && !Communicators.launchedByMpi()) return launchRanks(err);
        try (Communicator comm = Communicators.fromEnvironment()) {
            try {
                return train(comm, out, err);
            } catch (RuntimeException e) {
                if (comm.size() == 1) throw e;
                // the other ranks cannot see this rank's error: end the job now instead of leaving them waiting
                err.println("ballast train: rank " + comm.rank() + " of " + comm.size() + ": error: " + e);
                err.flush();
                comm.abort(1);
                throw e;
            }
        }
    }

    /** {@code --nproc N} outside an MPI launcher: runs this command on N ranks through mpirun. */
    private int launchRanks(PrintWriter err) throws Exception {
        if (nproc < 1) {
            err.println("ballast train: --nproc must be >= 1, got " + nproc);
            err.flush();
            return 2;
        }
        try {
            checkSplits(resolve(), nproc);
        } catch (ConfigException e) {
            return badConfig(err, e);
        }
        java.nio.file.Path mpirun = MpiLaunch.findMpirun();
        if (mpirun == null) {
            err.println("ballast train: --nproc needs Open MPI's mpirun on PATH (Debian/Ubuntu: apt-get install openmpi-bin "
                    + "libopenmpi-dev), or BALLAST_MPIRUN set to it");
            err.flush();
            return 1;
        }
        // originalArgs is the whole command line, "train" included
        var args = MpiLaunch.withoutNproc(spec.commandLine().getParseResult().originalArgs());
        return MpiLaunch.run(MpiLaunch.command(mpirun, nproc, args));
    }

    /** Trains on this rank of {@code comm}; only rank 0 prints (every rank sees the same losses and decisions). */
    private int train(Communicator comm, PrintWriter out, PrintWriter err) throws Exception {
        boolean root = comm.isRoot();
        if (comm.size() > 1 && System.getProperty("ballast.threads") == null && System.getenv("BALLAST_THREADS") == null) {
            // ranks on one machine share its processors instead of each starting a pool as wide as the machine
            int perRank = Math.max(1, Runtime.getRuntime().availableProcessors() / Communicators.localRanks());
            System.setProperty("ballast.threads", Integer.toString(perRank));
        }
        if (!root) {
            out = new PrintWriter(java.io.Writer.nullWriter());
            err = new PrintWriter(java.io.Writer.nullWriter());
        }
        TrainConfig c;
        BuiltinTraining run;
        HealthSession.Options healthOptions;
        TrainCheckpoint ckpt = new TrainCheckpoint(checkpoint, resume, overwrite, keep);
        try {
            ckpt.check();
            TrainCheckpoint.checkMetrics(metrics);
            c = resolve(ckpt.savedSettings());
            try {
                healthOptions = health.options(c);
            } catch (IllegalArgumentException e) {
                err.println("ballast train: bad option: " + e.getMessage());
                err.flush();
                return 2;
            }
            if (printConfig) {
                Map<String, Object> shown = new LinkedHashMap<>(c.toMap());
                shown.keySet().removeIf(k -> !c.applies(k)); // what is printed can be given back as --config
                shown.put("chain", c.effectiveChain()); // the chain in effect, whether explicit or from the flags
                shown.values().removeIf(java.util.Objects::isNull); // settings that are off (guard, clipAdaptive)
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(shown));
                out.flush();
                return 0;
            }
            if (ckpt.startStep() >= c.steps()) {
                err.println("ballast train: " + ckpt.resumeFrom() + " is already at step " + ckpt.startStep() + " of " + c.steps()
                        + ": nothing to train (raise --steps, the total, to train further)");
                err.flush();
                return 0;
            }
            checkSplits(c, comm.size());
            run = BuiltinTraining.create(c);
        } catch (TrainCheckpoint.UsageException e) {
            err.println("ballast train: " + e.getMessage());
            err.flush();
            return 2;
        } catch (java.io.IOException e) {
            err.println("ballast train: " + e.getMessage());
            err.flush();
            return 1;
        } catch (ConfigException e) {
            return badConfig(err, e);
        }
        Communicator devComm = null;
        try (run; TrainProgress progress = root ? TrainProgress.create(interactive(), c.steps(), c.logEvery(), err)
                : new TrainProgress() {}) {
            devComm = Communicators.forDevice(comm, run.device(), err::println); // NCCL for CUDA tensors where present
            err.println(header(c, run) + (comm.size() > 1 ? ", " + ranks(devComm) : ""));
            err.flush();
            try {
                ckpt.restore(run, c);
            } catch (IllegalArgumentException e) {
                err.println("ballast train: cannot resume: " + e.getMessage() + " (the flags change the model; drop them or use --overwrite)");
                err.flush();
                return 2;
            }
            DataParallel dp = comm.size() > 1 ? new DataParallel(devComm, run.model().parameters(), bucketMb) : null;
            RunRecorder recorder = this.out == null || !root ? null // the report is the root rank's
                    : new RunRecorder(run.model().namedParameters(), run.optimizer(), c.logEvery(), c.steps(), 0, progress);
            Trainer.Builder b = run.trainer(recorder != null ? recorder : progress, dp);
            record(b, recorder, run.lossScaler());
            HealthSession hs = HealthSession.install(run, b, healthOptions, err);
            if (recorder != null && hs.monitor() != null) recorder.monitor(hs.monitor()); // one reading per logged step
            if (metrics != null) b.metrics(metrics);
            ckpt.configure(b, run, c, run.model().stateDict());
            Trainer.Result r;
            try {
                r = b.build().run();
            } catch (DivergedException | TooManySkippedStepsException e) {
                progress.close();
                err.println("ballast train: " + e.getMessage());
                // first the diagnosis (its replay names the op that went non-finite, in the monitor the report shares)
                var findings = e instanceof DivergedException d ? hs.diverged(d.step(), d.loss()) : hs.findings();
                if (recorder != null) {
                    if (e instanceof DivergedException d) recorder.diverged(d.step(), d.loss());
                    writeReport(recorder, c, run, null, err);
                }
                err.flush();
                HealthOptions.print(out, List.of(), findings);
                hs.appendToMetrics(root ? metrics : null, findings);
                return 1;
            } finally {
                hs.close();
            }
            progress.close();
            out.print(summary(c, run, r));
            if (dp != null) {
                double stepMs = 1e3 * r.seconds() / Math.max(1, r.iterations()), syncMs = dp.gradientSyncMillis();
                out.println("ranks: " + ranks(devComm));
                out.println(String.format(Locale.ROOT, "gradient all-reduce: %.3f ms/step after backward (%.1f%% of the step, waiting "
                        + "for the slowest rank included)", syncMs, 100 * syncMs / Math.max(1e-9, stepMs)));
                out.println(buckets(dp));
            }
            if (recorder != null) writeReport(recorder, c, run, r, err);
            out.flush();
            var findings = hs.findings();
            HealthOptions.print(out, hs.summaryLines(r.iterations()), findings);
            hs.appendToMetrics(root ? metrics : null, findings);
            return 0;
        } finally {
            if (devComm != null && devComm != comm) devComm.close();
        }
    }

    /** The summary line of the gradient buckets: how many, and how much of their communication ran during backward. */
    static String buckets(DataParallel dp) {
        if (dp.bucketCount() == 0) return "gradient buckets: none (--bucket-mb 0: one all-reduce after backward)";
        DataParallel.Overlap o = dp.overlap();
        return String.format(Locale.ROOT, "gradient buckets: %d; all-reduces started during backward: %d of %d, running when backward "
                + "returned: %d, finished by then: %d", dp.bucketCount(), o.startedInBackward(), o.buckets(), o.runningAtBackwardEnd(),
                o.doneAtBackwardEnd());
    }

    /**
     * Puts {@code recorder} (may be null) on the trainer as its gradient transform: it measures the gradients as they
     * leave backward, before the run's chain clips, unscales or skips anything. {@code ballast demo} records its runs
     * through here too.
     */
    static void record(Trainer.Builder b, RunRecorder recorder) {
        record(b, recorder, null);
    }

    /** As {@link #record(Trainer.Builder, RunRecorder)}, with the run's loss scaler (may be null) for unscaled norms. */
    static void record(Trainer.Builder b, RunRecorder recorder, dev.ballast.stability.scale.GradScaler scaler) {
        if (recorder == null) return;
        if (scaler != null) recorder.lossScale(scaler::scale); // norms divided by the scale, loss-scale chart drawn
        b.gradTransform(recorder.gradTransform(null)).hook(recorder); // norms before the chain, statistics for the findings
    }

    /** The recorder's run log for {@code c} (result null when it diverged). */
    static RunLog runLog(RunRecorder recorder, TrainConfig c, BuiltinTraining run, Trainer.Result r, String name, String title) {
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("device", run.device().name());
        summary.put("parameters", run.model().parameterCount());
        if (r != null) {
            summary.put("steps", r.iterations());
            summary.put("steps skipped", r.skippedSteps());
            summary.put("final train loss", r.lastLoss());
            for (var e : r.lastEval().entrySet()) summary.put("test " + e.getKey(), e.getValue());
            summary.put("seconds", Math.round(r.seconds() * 100) / 100.0);
            var scaler = run.lossScaler();
            if (scaler != null) {
                summary.put("final loss scale", scaler.scale().item());
                summary.put("overflow steps skipped", (long) scaler.skippedSteps().item());
            }
        } else {
            summary.put("diverged at step", recorder.divergedAt());
        }
        return recorder.log(name, title, c.toMap(), c.clip(), summary, HealthSession.traits(c));
    }

    private void writeReport(RunRecorder recorder, TrainConfig c, BuiltinTraining run, Trainer.Result r, PrintWriter err) {
        String title = String.format(Locale.ROOT, "%s on %s (%s lr %s%s, seed %d)", c.model(), c.task(), c.optimizer(), c.lr(),
                c.clip() > 0 ? ", clip " + c.clip() : "", c.seed());
        RunLog log = runLog(recorder, c, run, r, "run", title);
        RunFiles.writeRun(this.out, log);
        Path page = ReportPage.write(this.out, RunFiles.single(log));
        // the diagnosis is printed on stdout with the run's summary; only the report's own findings are added here
        for (Finding f : log.findings())
            if (!dev.ballast.stability.monitor.Finding.KINDS.contains(f.kind())) err.println(f.line());
        err.println("report: " + page);
    }

    /** --batch is the global batch: each of {@code ranks} takes an equal share. */
    private static void checkSplits(TrainConfig c, int ranks) {
        if (c.batch() % ranks != 0)
            throw new ConfigException("batch", "batch: " + c.batch() + " does not split over " + ranks
                    + " data-parallel ranks; use a multiple of " + ranks);
    }

    private static int badConfig(PrintWriter err, ConfigException e) {
        String key = e.key();
        boolean known = TrainConfig.KEYS.contains(key);
        err.println("ballast train: bad config: " + e.getMessage() + (known ? " (" + TrainConfigFile.flag(key) + ")" : ""));
        err.println("Run 'ballast train --help' for the settings.");
        err.flush();
        return 2;
    }

    private static String ranks(Communicator comm) {
        return comm.size() + " data-parallel ranks over " + comm.name();
    }

    /** Whether stdin and stdout are a terminal (since Java 22 a Console exists even when they are redirected). */
    static boolean interactive() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    /** Defaults of the task, then a resumed checkpoint's settings, then the config file, then the flags given. */
    TrainConfig resolve() { return resolve(Map.of()); }

    TrainConfig resolve(Map<String, Object> saved) {
        Map<String, Object> settings = new LinkedHashMap<>(); // the user's: each must apply to the run
        if (config != null) settings.putAll(TrainConfigFile.read(config));
        Object[] flags = {model, task, steps, batch, lr, optimizer, momentum, weightDecay, clip, clipValue, schedule, warmup,
                seed, depth, width, hidden, layers, heads, seqLen, vocab, init, activation, evalEvery, logEvery, trainSize,
                testSize, device, skipNonFinite, agc, maxConsecutiveSkips, null, precision, health.guard, health.clipAdaptive, lossScale};
        for (int i = 0; i < flags.length; i++) {
            if (flags[i] == null) continue;
            String key = TrainConfig.KEYS.get(i);
            if (settings.get("chain") != null && TrainConfig.CHAIN_KEYS.contains(key))
                throw new ConfigException(key, TrainConfigFile.flag(key) + " cannot change the config file's explicit chain; "
                        + "edit its \"chain\" list instead");
            settings.put(key, flags[i]);
        }
        return TrainConfig.resolve(saved, settings);
    }

    private static String header(TrainConfig c, BuiltinTraining run) {
        return String.format(Locale.ROOT, "ballast train: %s on %s, %,d parameters, %s lr %s%s, batch %d, %d steps, device %s%s",
                c.model(), c.task(), run.model().parameterCount(), c.optimizer(), c.lr(),
                chainText(c), c.batch(), c.steps(), run.device().name(),
                c.precision().equals("fp32") ? "" : ", precision " + c.precision());
    }

    /** The chain in effect, compactly: {@code , chain skip_nonfinite > clip_norm(1.0)}; empty when there is none. */
    private static String chainText(TrainConfig c) {
        StringBuilder sb = new StringBuilder();
        for (Map<String, Object> o : c.effectiveChain()) {
            sb.append(sb.isEmpty() ? ", chain " : " > ").append(o.get("op"));
            StringBuilder args = new StringBuilder();
            for (var e : o.entrySet()) if (!e.getKey().equals("op")) args.append(args.isEmpty() ? "" : ", ").append(e.getValue());
            if (!args.isEmpty()) sb.append('(').append(args).append(')');
        }
        return sb.toString();
    }

    /** {@code key: value} lines: model, task, device, steps, skipped, final train loss, test metrics, time. */
    static String summary(TrainConfig c, BuiltinTraining run, Trainer.Result r) {
        StringBuilder sb = new StringBuilder();
        String metric = run.task().metric();
        line(sb, "model", String.format(Locale.ROOT, "%s (%,d parameters)", c.model(), run.model().parameterCount()));
        line(sb, "task", c.task());
        line(sb, "device", run.device().name());
        line(sb, "steps", Long.toString(r.iterations()));
        line(sb, "steps skipped", Long.toString(r.skippedSteps()));
        line(sb, "precision", c.precision());
        var scaler = run.lossScaler();
        line(sb, "loss scale", scaler != null
                ? String.format(Locale.ROOT, "%.6g final (%s, initial %.6g), %d overflow steps skipped", scaler.scale().item(),
                        scaler.policy().dynamic() ? "dynamic" : "static", scaler.policy().initScale(), (long) scaler.skippedSteps().item())
                : c.precision().equals("fp16") ? "none (fp16 without loss scaling: gradients below 2^-24 flush to zero)"
                : "none (" + c.precision() + " needs no loss scaling)");
        line(sb, "final train loss", String.format(Locale.ROOT, "%.6g", r.lastLoss()));
        Double m = r.lastEval().get(metric), tl = r.lastEval().get("loss");
        if (m != null) line(sb, "test " + metric, String.format(Locale.ROOT, "%.6g", m));
        if (tl != null) line(sb, "test loss", String.format(Locale.ROOT, "%.6g", tl));
        line(sb, "time", String.format(Locale.ROOT, "%.2f s (%.2f ms/step, %.1f steps/s)", r.seconds(),
                1e3 * r.seconds() / Math.max(1, r.iterations()), r.iterations() / Math.max(1e-9, r.seconds())));
        return sb.toString();
    }

    private static void line(StringBuilder sb, String key, String value) {
        sb.append(key).append(": ").append(value).append(System.lineSeparator());
    }
}
