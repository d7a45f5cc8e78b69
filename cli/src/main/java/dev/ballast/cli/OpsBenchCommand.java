package dev.ballast.cli;

import dev.ballast.bench.BenchReport;
import dev.ballast.bench.OpsBench;
import dev.ballast.engine.Device;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast bench ops}: GB/s of elementwise add, scale and a full sum against a plain copy, and the host
 * overhead of one tiny op, through the Tensor API ({@link OpsBench}), beside PyTorch on the same device when it
 * is installed. Table on stdout; with {@code --json} one JSON line follows, the last line of stdout. Progress
 * goes to stderr. Bad options are usage errors (exit 2) naming the allowed values.
 */
@Command(name = "ops", mixinStandardHelpOptions = true,
        description = {"Elementwise add/scale and sum GB/s against a plain copy, and tiny-op overhead in microseconds,",
                "through the Tensor API, beside PyTorch when it is installed."})
public final class OpsBenchCommand implements Callable<Integer> {

    /** Largest operand accepted: 16 GiB of F32 (three such buffers are live at once). */
    static final int MAX_MB = 16384;

    @Spec CommandSpec spec;

    @Mixin BenchOptions bench;

    @Option(names = "--mb", paramLabel = "MIB",
            description = "Size of each F32 operand in MiB, 1..16384. Default: 256 on CUDA, 64 on the CPU.")
    String mb;

    @Override public Integer call() {
        Device dev = bench.device();
        int size = mb == null ? (dev.name().equals("cuda") ? OpsBench.CUDA_MB : OpsBench.CPU_MB)
                : BenchOptions.intInRange(spec, "--mb", mb, 1, MAX_MB);
        BenchReport r = OpsBench.run(dev, size, bench.timing(OpsBench.TIMING), OpsBench.MIN_TINY_CALLS * 2, !bench.noTorch,
                bench.progress());
        bench.print(r.table(), r.toJson());
        return 0;
    }
}
