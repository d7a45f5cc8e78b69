package dev.ballast.dist;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.DataLoader;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.TwoSpirals;
import dev.ballast.engine.dist.Communicator;
import dev.ballast.engine.nn.Linear;
import dev.ballast.engine.nn.Losses;
import dev.ballast.engine.nn.Module;
import dev.ballast.engine.nn.ParamSpec;
import dev.ballast.engine.nn.Sequential;
import dev.ballast.engine.nn.Tanh;
import dev.ballast.engine.optim.AdamW;
import dev.ballast.engine.optim.Optimizer;
import dev.ballast.engine.optim.SGD;
import dev.ballast.stability.chain.GradientChain;
import dev.ballast.stability.chain.Link;
import dev.ballast.stability.guard.ExplosionGuard;
import dev.ballast.stability.guard.GuardPolicy;
import dev.ballast.train.DataParallel;
import dev.ballast.train.ProgressReporter;
import dev.ballast.train.Trainer;
import java.io.DataOutputStream;
import dev.ballast.engine.io.Checkpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One data-parallel training run, the same code on one process (in the test's JVM) and on every rank under
 * {@code mpirun} (its {@link #main}): an MLP on two spirals, clipping by global norm through the gradient chain with
 * the non-finite skip, optionally an infinite gradient injected on one rank at one step.
 * Several runs share one {@code mpirun} launch (see {@link #main}): starting JVMs is what costs.
 */
public final class DataParallelProbe {
    static final int GLOBAL_BATCH = 64;

    /**
     * What a run ends with: the logged (rank-averaged) loss per step, the final weights, optimizer and skipped steps,
     * and how the gradient buckets overlapped backward.
     */
    record Result(double[] losses, float[] weights, long optimizerSteps, long skipped, DataParallel.Overlap overlap) {}

    static Result train(Communicator comm, String optimizerName, int steps, long injectStep, int injectRank) {
        return train(comm, optimizerName, steps, injectStep, injectRank, null, null);
    }

    static Result train(Communicator comm, String optimizerName, int steps, long injectStep, int injectRank, Path checkpoint,
                        Path resumeFrom) {
        return train(comm, optimizerName, steps, injectStep, injectRank, checkpoint, resumeFrom, DataParallel.DEFAULT_BUCKET_MB, 32, 1);
    }

    /**
     * As above; with {@code checkpoint} the run saves model and optimizer there at the end (rank 0 only, after a
     * barrier), with {@code resumeFrom} it starts from such a checkpoint and its step. {@code bucketMb}: the gradient
     * bucket size (0: one all-reduce after backward); {@code width}: the hidden layers' width; {@code square}: how many
     * width x width layers.
     */
    static Result train(Communicator comm, String optimizerName, int steps, long injectStep, int injectRank, Path checkpoint,
                        Path resumeFrom, double bucketMb, int width, int square) {
        Device cpu = Device.cpu();
        List<Module> layers = new ArrayList<>(List.of(new Linear(2, width, new ParamSpec(cpu, DType.F32, new Generator(3 + comm.rank()))), new Tanh()));
        for (int i = 0; i < square; i++)
            layers.addAll(List.of(new Linear(width, width, new ParamSpec(cpu, DType.F32, new Generator(5 + 100L * i + comm.rank()))), new Tanh()));
        layers.add(new Linear(width, 2, new ParamSpec(cpu, DType.F32, new Generator(9 + comm.rank()))));
        try (Dataset data = TwoSpirals.generate(cpu, 256, 0.05, 7); Module model = new Sequential(layers.toArray(Module[]::new))) {
            // each rank starts from different weights on purpose: the broadcast from rank 0 must make them equal
            List<Tensor> params = model.parameters();
            Optimizer opt = optimizerName.equals("sgd") ? new SGD(params, 0.05, 0.9, 0, 0, false)
                    : new AdamW(params, 1e-2, 0.9, 0.999, 1e-8, 0.01);
            long[] step = {0};
            boolean guarded = optimizerName.equals("guard");
            Tensor first = params.getFirst();
            if (!guarded)
                first.registerHook(g -> step[0] == injectStep && comm.rank() == injectRank ? g.add(Double.POSITIVE_INFINITY) : g);
            // "guard": AdamW behind the explosion guard (rollback, snapshots every 5 quiet steps); the injection is a loss
            // spike on one rank only, gradients untouched: only the loss averaged over the ranks shows it to every rank
            ExplosionGuard guard = guarded ? new ExplosionGuard(GuardPolicy.parse("rollback"), new ExplosionGuard.Settings(6, 0.9, 5, 5)) : null;
            GradientChain chain = guarded ? GradientChain.of(guard, Link.clipByGlobalNorm(0.5), Link.apply(opt))
                    : GradientChain.of(Link.clipByGlobalNorm(0.5), Link.skipIfNonFinite(), Link.apply(opt));
            DataLoader loader = new DataLoader(data, GLOBAL_BATCH, true, true, 11);
            StringWriter metrics = new StringWriter();
            long start = 0;
            if (resumeFrom != null) {
                try {
                    start = Checkpoint.load(resumeFrom, model.stateDict(), opt, null).step();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            step[0] = start;
            DataParallel dp = new DataParallel(comm, params, bucketMb);
            Trainer.Builder tb = Trainer.builder(params, opt, loader, b -> {
                        step[0]++;
                        Tensor loss = Losses.crossEntropy(model.call(b.inputs()), b.targets());
                        boolean spike = guarded && step[0] == injectStep && comm.rank() == injectRank;
                        return spike ? loss.add(Tensor.scalar(loss.device(), DType.F32, 1e4).sub(loss.detach())) : loss;
                    })
                    .maxSteps(steps > 0 ? steps : Long.MAX_VALUE / 2).logEvery(1).metrics(metrics)
                    .startIteration(start).progress(new ProgressReporter(System.err, 1, false))
                    .dataParallel(dp);
            if (guarded) tb.chain(chain);
            else tb.stepFunction(chain::step);
            if (checkpoint != null) tb.checkpoint(steps, checkpoint, model.stateDict(), null);
            Trainer.Result r = tb.build().run();
            List<Double> losses = new ArrayList<>();
            Matcher m = Pattern.compile("\"loss\":([-0-9.eE]+)").matcher(metrics.toString());
            while (m.find()) losses.add(Double.parseDouble(m.group(1)));
            float[] weights = flatten(params);
            chain.close();
            opt.close();
            dp.close();
            return new Result(losses.stream().mapToDouble(Double::doubleValue).toArray(), weights, r.optimizerSteps(), r.skippedSteps(),
                    dp.overlap());
        }
    }

    private static float[] flatten(List<Tensor> params) {
        int n = 0;
        for (Tensor p : params) n += (int) p.numel();
        float[] out = new float[n];
        int off = 0;
        for (Tensor p : params) {
            float[] v = p.toFloatArray();
            System.arraycopy(v, 0, out, off, v.length);
            off += v.length;
        }
        return out;
    }

    /**
     * {@code main(outDir, scenario...)}: each scenario is {@code optimizer[@bucketMb[@width@square]]:steps:injectStep:injectRank[:checkpointFile]}
     * (bucket size 25 MB, width 32 and one square layer unless given) and writes
     * {@code outDir/rank<r>-<i>.bin}; {@code collectives} runs {@link CollectivesProbe} into {@code rank<r>-<i>.txt};
     * {@code forever} writes {@code rank<r>.pid} and trains until killed.
     */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        try (Communicator comm = Communicators.fromEnvironment()) {
            for (int i = 1; i < args.length; i++) {
                if (args[i].equals("collectives")) {
                    Files.writeString(out.resolve("rank" + comm.rank() + "-" + i + ".txt"), CollectivesProbe.run(comm));
                    continue;
                }
                if (args[i].equals("forever")) {
                    Files.writeString(out.resolve("rank" + comm.rank() + ".pid"), Long.toString(ProcessHandle.current().pid()));
                    train(comm, "sgd", 0, -1, -1);
                    continue;
                }
                String[] f = args[i].split(":");
                Path ckpt = f.length > 4 ? out.resolve(f[4]) : null;
                String[] opt = f[0].split("@");
                double bucketMb = opt.length > 1 ? Double.parseDouble(opt[1]) : DataParallel.DEFAULT_BUCKET_MB;
                int width = opt.length > 2 ? Integer.parseInt(opt[2]) : 32, square = opt.length > 3 ? Integer.parseInt(opt[3]) : 1;
                Result r = train(comm, opt[0], Integer.parseInt(f[1]), Long.parseLong(f[2]), Integer.parseInt(f[3]), ckpt, null, bucketMb,
                        width, square);
                try (var o = new DataOutputStream(Files.newOutputStream(out.resolve("rank" + comm.rank() + "-" + i + ".bin")))) {
                    write(o, r);
                }
            }
        }
    }

    static void write(DataOutputStream o, Result r) throws IOException {
        o.writeLong(r.optimizerSteps());
        o.writeLong(r.skipped());
        o.writeInt(r.losses().length);
        for (double v : r.losses()) o.writeDouble(v);
        o.writeInt(r.weights().length);
        for (float v : r.weights()) o.writeFloat(v);
        DataParallel.Overlap ov = r.overlap();
        for (long v : new long[]{ov.steps(), ov.buckets(), ov.startedInBackward(), ov.runningAtBackwardEnd(), ov.doneAtBackwardEnd()})
            o.writeLong(v);
    }

    static Result read(Path p) throws IOException {
        try (var in = new java.io.DataInputStream(Files.newInputStream(p))) {
            long steps = in.readLong(), skipped = in.readLong();
            double[] losses = new double[in.readInt()];
            for (int i = 0; i < losses.length; i++) losses[i] = in.readDouble();
            float[] w = new float[in.readInt()];
            for (int i = 0; i < w.length; i++) w[i] = in.readFloat();
            var ov = new DataParallel.Overlap(in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong());
            return new Result(losses, w, steps, skipped, ov);
        }
    }
}
