package dev.ballast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Runs a PyTorch benchmark script with {@code PYTHON -c SCRIPT}, the configuration as JSON on stdin, and reads
 * the JSON object the script prints as its last stdout line. Either the object or the reason it could not be
 * had (python3 missing, {@code import torch} failing, the script failing, unreadable output) comes back; nothing
 * is thrown, since PyTorch is only ever a side-by-side reference. PYTHON is the environment variable
 * {@value #PYTHON_ENV} when set (a python3 whose torch to use, e.g. a virtual environment's), else {@code python3}
 * from PATH; the child inherits the environment, so {@code PYTHONPATH} also points it at a PyTorch.
 */
public final class TorchProcess {
    private TorchProcess() {}

    /** Environment variable naming the Python interpreter that runs the PyTorch side. */
    public static final String PYTHON_ENV = "BALLAST_PYTHON";

    /** The interpreter to run: {@value #PYTHON_ENV}, else python3. */
    public static String python() {
        String p = System.getenv(PYTHON_ENV);
        return p == null || p.isBlank() ? "python3" : p.strip();
    }

    /** The script's output object, or null with {@code failure} saying why. */
    public record Outcome(JsonNode json, String failure) {}

    /** Runs {@code script} after checking that torch imports (within 120 s); the script itself has no time limit. */
    public static Outcome run(String script, String stdinJson) {
        Raw probe = python("import torch", "", 120);
        if (probe.failure() != null) return new Outcome(null, probe.failure());
        Raw r = python(script, stdinJson, 0);
        if (r.failure() != null) return new Outcome(null, r.failure());
        String text = r.stdout();
        String last = text.substring(text.lastIndexOf('\n') + 1);
        try {
            JsonNode json = new ObjectMapper().readTree(last);
            if (json == null || !json.isObject()) return new Outcome(null, "unexpected output from python3: " + last);
            return new Outcome(json, null);
        } catch (IOException e) {
            return new Outcome(null, "unexpected output from python3: " + last);
        }
    }

    private record Raw(String stdout, String failure) {}

    /** Runs python3 -c {@code code} with {@code stdin}; {@code timeoutS} 0: no limit. */
    private static Raw python(String code, String stdin, int timeoutS) {
        Process p;
        try {
            p = new ProcessBuilder(python(), "-c", code).start();
        } catch (IOException e) {
            return new Raw("", python() + " could not be started (" + e.getMessage() + "); set " + PYTHON_ENV
                    + " to a python3 that has torch");
        }
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream(), out = new ByteArrayOutputStream();
            // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
            Thread drainErr = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
            Thread drainOut = Thread.ofVirtual().start(() -> copy(p.getInputStream(), out));
            try (OutputStream in = p.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            boolean done = timeoutS > 0 ? p.waitFor(timeoutS, TimeUnit.SECONDS) : p.waitFor() >= Integer.MIN_VALUE;
            if (!done) {
                p.destroyForcibly();
                return new Raw("", "python3 did not finish within " + timeoutS + " s");
            }
            drainErr.join();
            drainOut.join();
            if (p.exitValue() != 0) {
                String[] lines = err.toString(StandardCharsets.UTF_8).strip().split("\n");
                return new Raw("", python() + " exited with " + p.exitValue() + ": " + lines[lines.length - 1]
                        + (code.equals("import torch") ? " (set " + PYTHON_ENV + " or PYTHONPATH to reach a PyTorch)" : ""));
            }
            return new Raw(out.toString(StandardCharsets.UTF_8).strip(), null);
        } catch (IOException e) {
            return new Raw("", "talking to python3 failed (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            return new Raw("", "interrupted");
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try {
            in.transferTo(out);
        } catch (IOException ignored) {
            // the exit code and stdout tell the story
        }
    }

    /** Common preamble of the benchmark scripts: config from stdin and the warm-up + median rule of {@link ClipBench.Timing}. */
    static final String PREAMBLE = String.join("\n",
        "import sys, json, time",
        "import torch",
        "cfg = json.load(sys.stdin)",
        "dev = cfg['device']",
        "cuda = dev == 'cuda'",
        "def sync():",
        "    if cuda: torch.cuda.synchronize()",
        "def bench(fn):",
        "    t_end = time.perf_counter() + cfg['warmup_s']",
        "    n = 0",
        "    while n < cfg['min_warmup'] or time.perf_counter() < t_end:",
        "        fn(); n += 1",
        "    sync()",
        "    ts = []",
        "    total = 0.0",
        "    while len(ts) < cfg['min_reps'] or (total < cfg['target_s'] and len(ts) < cfg['max_reps']):",
        "        if cuda:",
        "            s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)",
        "            s.record(); fn(); e.record(); e.synchronize(); ms = s.elapsed_time(e)",
        "        else:",
        "            t0 = time.perf_counter(); fn(); ms = (time.perf_counter() - t0) * 1e3",
        "        ts.append(ms); total += ms / 1e3",
        "    return median(ts)",
        "def median(ts):",
        "    ts = sorted(ts); k = len(ts)",
        "    return ts[k // 2] if k % 2 else 0.5 * (ts[k // 2 - 1] + ts[k // 2])",
        "g = torch.Generator(device=dev); g.manual_seed(1234)",
        "def randn(*shape, dtype=torch.float32):",
        "    return torch.randn(*shape, device=dev, generator=g).to(dtype)",
        "");

    /** The timing fields {@link #PREAMBLE} reads from the config. */
    public static void putTiming(com.fasterxml.jackson.databind.node.ObjectNode cfg, ClipBench.Timing t) {
        cfg.put("warmup_s", t.warmupSeconds());
        cfg.put("min_warmup", t.minWarmup());
        cfg.put("min_reps", t.minReps());
        cfg.put("max_reps", t.maxReps());
        cfg.put("target_s", t.targetSeconds());
    }
}
