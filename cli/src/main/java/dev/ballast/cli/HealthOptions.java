package dev.ballast.cli;

import dev.ballast.stability.monitor.Finding;
import dev.ballast.train.builtin.TrainConfig;
import dev.ballast.train.health.HealthSession;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Option;

/** The gradient-health flags of {@code ballast train} (a picocli mixin, so the command itself stays small). */
public final class HealthOptions {
    @Option(names = "--monitor-every", paramLabel = "K",
            description = "Read per-parameter gradient statistics every K steps for the diagnosis and the metrics (0 = off; default: --log-every).")
    Long monitorEvery;

    @Option(names = "--guard", paramLabel = "POLICIES",
            description = "Explosion guard on loss/gradient-norm spikes and non-finite values: comma-separated skip, backoff:F:N, rollback "
                    + "(config key guard; the first link of the chain, decisions on the device).")
    String guard;

    @Option(names = "--clip-adaptive", paramLabel = "SPEC",
            description = "Adaptive clipping, a link of the chain: agc:<ratio> (unit-wise AGC), autoclip:<percentile>, zclip:<z> "
                    + "(config key clipAdaptive).")
    String clipAdaptive;

    @Option(names = "--tensorboard", paramLabel = "DIR",
            description = "Write TensorBoard event files to DIR: train/loss, train/lr, grad/global_norm, grad/norm/<param>, histograms grad/<param> (log2 |g|).")
    java.nio.file.Path tensorboard;

    /** The session options for config {@code c}; throws IllegalArgumentException naming a bad value. */
    HealthSession.Options options(TrainConfig c) {
        return new HealthSession.Options(monitorEvery == null ? c.logEvery() : monitorEvery, tensorboard);
    }

    /** Prints the guard summary and the findings, one {@code diagnosis:} line each. */
    static void print(PrintWriter out, List<String> summary, List<Finding> findings) {
        summary.forEach(out::println);
        for (Finding f : findings) out.println(f.line());
        out.flush();
    }
}
