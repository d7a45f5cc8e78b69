package dev.ballast.cli;

import dev.ballast.bench.BenchReport;
import dev.ballast.bench.MatmulBench;
import dev.ballast.engine.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ballast bench matmul}: square matmul TFLOP/s through {@code Tensor.matmul} per dtype and size
 * ({@link MatmulBench}), beside PyTorch on the same device when it is installed. Table on stdout; with
 * {@code --json} one JSON line follows, the last line of stdout. Progress goes to stderr. Bad options are usage
 * errors (exit 2) naming the allowed values.
 */
@Command(name = "matmul", mixinStandardHelpOptions = true,
        description = {"Square matmul TFLOP/s through the Tensor API per dtype and size, beside PyTorch when it is installed.",
                "tf32 rows need CUDA (skipped with a note on the CPU); on the CPU bf16/fp16 are widened to f32."})
public final class MatmulBenchCommand implements Callable<Integer> {

    /** Largest size accepted: 16384^2 floats is 1 GiB per operand. */
    static final int MAX_SIZE = 16384;

    @Spec CommandSpec spec;

    @Mixin BenchOptions bench;

    @Option(names = "--sizes", split = ",", paramLabel = "N",
            description = "Comma-separated sizes (N x N times N x N), each 1..16384. Default: 1024,2048,4096,8192 on CUDA, "
                    + "256,512,1024 on the CPU.")
    List<String> sizes;

    @Option(names = "--dtypes", split = ",", paramLabel = "DTYPE", defaultValue = "fp32,tf32,bf16,fp16",
            description = "Comma-separated precisions among fp32, tf32, bf16, fp16. Default: ${DEFAULT-VALUE}.")
    List<String> dtypes;

    @Override public Integer call() {
        Device dev = bench.device();
        List<MatmulBench.Precision> precisions = new ArrayList<>();
        for (String d : dtypes) {
            try {
                MatmulBench.Precision p = MatmulBench.Precision.parse(d);
                if (!precisions.contains(p)) precisions.add(p);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "Invalid --dtypes value '" + d
                        + "': allowed values are " + MatmulBench.Precision.allowed());
            }
        }
        int[] n = sizes == null ? (dev.name().equals("cuda") ? MatmulBench.CUDA_SIZES : MatmulBench.CPU_SIZES).clone()
                : sizes.stream().mapToInt(s -> BenchOptions.intInRange(spec, "--sizes", s, 1, MAX_SIZE)).toArray();
        BenchReport r = MatmulBench.run(dev, n, precisions, bench.timing(MatmulBench.TIMING), !bench.noTorch, bench.progress());
        bench.print(r.table(), r.toJson());
        return 0;
    }
}
