package dev.ballast.engine.io;

import dev.ballast.engine.Generator;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.GradMode;
import dev.ballast.engine.optim.Optimizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training checkpoint: ONE safetensors file holding the model tensors ({@code model.<name>}), the optimizer
 * state ({@code optim.<key>}, see {@link Optimizer#stateDict()}) and metadata: format version, step, generator
 * seed and offset, optimizer hyperparameters (as JSON) and the SHA-256 of the data section, checked on load.
 * Saving is atomic (temporary file, fsync, rename). Loading validates everything (structure, checksum, names,
 * shapes, dtypes, optimizer layout) before it writes anything into live tensors, so a bad file never leaves a
 * half-loaded model.
 */
public final class Checkpoint {
    /** The checkpoint format this class writes and reads. */
    public static final int FORMAT_VERSION = 1;

    static final String KEY_FORMAT = "ballast.format";
    static final String KEY_VERSION = "ballast.format_version";
    static final String KEY_STEP = "ballast.step";
    static final String KEY_SEED = "ballast.generator.seed";
    static final String KEY_OFFSET = "ballast.generator.offset";
    static final String KEY_OPTIM = "ballast.optimizer";
    static final String KEY_SHA = "ballast.data_sha256";

    private Checkpoint() {}

    /**
     * What a checkpoint holds besides tensors: the step, the generator state (when one was saved), the optimizer
     * hyperparameters (empty when none) and all metadata.
     */
    public record Info(long step, Long generatorSeed, Long generatorOffset, Map<String, String> optimizerHyperparameters,
                       Map<String, String> metadata) {
        /** A generator positioned where the saved one was; throws when the checkpoint holds none. */
        public Generator generator() {
            if (generatorSeed == null) throw new IllegalStateException("the checkpoint holds no generator state");
            return new Generator(generatorSeed, generatorOffset);
        }
    }

    /**
     * Saves {@code model} tensors, the optimizer's state and hyperparameters (may be null), {@code step} and the
     * generator's seed and offset (may be null) to {@code path}, atomically.
     */
    public static void save(Path path, Map<String, Tensor> model, Optimizer opt, long step, Generator gen) throws IOException {
        save(path, model, opt, step, gen, Map.of());
    }

    /**
     * As {@link #save(Path, Map, Optimizer, long, Generator)}, plus {@code extra} tensors saved as {@code extra.<key>}:
     * state that belongs to neither the model nor the optimizer, such as a gradient chain's link state and skip counters.
     */
    public static void save(Path path, Map<String, Tensor> model, Optimizer opt, long step, Generator gen,
                            Map<String, Tensor> extra) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(KEY_FORMAT, "ballast-checkpoint");
        meta.put(KEY_VERSION, Integer.toString(FORMAT_VERSION));
        meta.put(KEY_STEP, Long.toString(step));
        if (gen != null) {
            meta.put(KEY_SEED, Long.toString(gen.seed()));
            meta.put(KEY_OFFSET, Long.toString(gen.offset()));
        }
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> all = new LinkedHashMap<>();
            for (var e : model.entrySet()) all.put("model." + e.getKey(), e.getValue());
            if (opt != null) {
                meta.put(KEY_OPTIM, Json.write(opt.hyperparameters()));
                for (var e : opt.stateDict().entrySet()) all.put("optim." + e.getKey(), e.getValue());
            }
            for (var e : extra.entrySet()) all.put("extra." + e.getKey(), e.getValue());
            SafeTensors.write(path, all, meta, KEY_SHA);
        }
    }

    /** Reads and validates a checkpoint's structure, checksum and metadata without loading anything. */
    public static Info inspect(Path path) throws IOException {
        try (SafeTensors.Image img = SafeTensors.Image.open(path)) {
            return validate(img);
        }
    }

    /**
     * Restores a checkpoint in place: every tensor of {@code model} from {@code model.<name>} (same shape and dtype
     * required; the file must hold exactly these model tensors), the optimizer (when not null) and the generator's
     * offset (when not null; its seed must match). Everything is checked first: a file or a mismatch that fails
     * validation throws (IOException for a bad file, IllegalArgumentException for a mismatch) and changes nothing.
     */
    public static Info load(Path path, Map<String, Tensor> model, Optimizer opt, Generator gen) throws IOException {
        return load(path, model, opt, gen, null);
    }

    /**
     * As {@link #load(Path, Map, Optimizer, Generator)}, and when {@code extraState} is not null, copies {@code extra.<key>}
     * into each of its live tensors: the file must hold exactly those keys, each with the same shape and dtype (checked
     * with everything else, before anything is written). With a null {@code extraState}, saved extra tensors are ignored.
     */
    public static Info load(Path path, Map<String, Tensor> model, Optimizer opt, Generator gen, Map<String, Tensor> extraState)
            throws IOException {
        try (SafeTensors.Image img = SafeTensors.Image.open(path); Scope scope = Scope.open();
             GradMode.Guard ng = GradMode.noGrad()) {
            Info info = validate(img);
            Map<String, SafeTensors.Entry> entries = img.entries();
            // model: exact name set, shapes, dtypes
            List<String> extra = new ArrayList<>();
            for (String k : entries.keySet()) {
                if (k.startsWith("model.") && !model.containsKey(k.substring(6))) extra.add(k.substring(6));
                else if (!k.startsWith("model.") && !k.startsWith("optim.") && !k.startsWith("extra."))
                    throw mismatch(path, "unexpected tensor '" + k + "' (checkpoint tensors are named model.*, optim.* or extra.*)");
            }
            if (!extra.isEmpty()) throw mismatch(path, "holds model tensors the model does not have: " + extra);
            for (var e : model.entrySet()) {
                SafeTensors.Entry en = entries.get("model." + e.getKey());
                Tensor live = e.getValue();
                if (en == null) throw mismatch(path, "has no tensor for model parameter '" + e.getKey() + "'");
                if (!Arrays.equals(en.shape(), live.shape()) || en.dtype() != live.dtype())
                    throw mismatch(path, "model tensor '" + e.getKey() + "' is " + Arrays.toString(en.shape()) + " " + en.dtype()
                            + " in the file but " + Arrays.toString(live.shape()) + " " + live.dtype() + " in the model");
                if (!live.isContiguous()) throw mismatch(path, "model tensor '" + e.getKey() + "' is not contiguous; cannot load in place");
            }
            // optimizer: hyperparameters and state layout
            Map<String, Tensor> optState = new LinkedHashMap<>();
            if (opt != null) {
                if (info.optimizerHyperparameters().isEmpty()) throw mismatch(path, "holds no optimizer state, but an optimizer was given");
                try {
                    opt.validateHyperparameters(info.optimizerHyperparameters());
                    for (String k : entries.keySet())
                        if (k.startsWith("optim.")) optState.put(k.substring(6), img.tensor(k, opt.params().get(0).device()));
                    opt.validateStateDict(optState);
                } catch (IllegalArgumentException e) {
                    throw mismatch(path, e.getMessage());
                }
            }
            if (gen != null) {
                if (info.generatorSeed() == null) throw mismatch(path, "holds no generator state, but a generator was given");
                if (info.generatorSeed() != gen.seed())
                    throw mismatch(path, "generator seed is " + info.generatorSeed() + " but the given generator's seed is " + gen.seed()
                            + "; use Checkpoint.inspect(path).generator() to make one");
            }
            if (extraState != null) {
                for (String k : entries.keySet())
                    if (k.startsWith("extra.") && !extraState.containsKey(k.substring(6)))
                        throw mismatch(path, "holds state '" + k.substring(6) + "' that this run does not have (its state: " + extraState.keySet() + ")");
                for (var e : extraState.entrySet()) {
                    SafeTensors.Entry en = entries.get("extra." + e.getKey());
                    if (en == null) throw mismatch(path, "has no tensor for state '" + e.getKey() + "'");
                    if (!Arrays.equals(en.shape(), e.getValue().shape()) || en.dtype() != e.getValue().dtype())
                        throw mismatch(path, "state '" + e.getKey() + "' is " + Arrays.toString(en.shape()) + " " + en.dtype()
                                + " in the file but " + Arrays.toString(e.getValue().shape()) + " " + e.getValue().dtype() + " here");
                }
            }
            // everything checked: now write into live tensors
            List<Tensor> staged = new ArrayList<>();
            for (var e : model.entrySet()) staged.add(img.tensor("model." + e.getKey(), e.getValue().device()));
            int i = 0;
            for (Tensor live : model.values()) live.copyFrom(staged.get(i++));
            if (opt != null) {
                opt.loadStateDict(optState);
                opt.loadHyperparameters(info.optimizerHyperparameters());
            }
            if (extraState != null)
                for (var e : extraState.entrySet()) e.getValue().copyFrom(img.tensor("extra." + e.getKey(), e.getValue().device()));
            if (gen != null) gen.setOffset(info.generatorOffset());
            return info;
        }
    }

    private static IllegalArgumentException mismatch(Path path, String what) {
        return new IllegalArgumentException("checkpoint " + path + ": " + what);
    }

    private static Info validate(SafeTensors.Image img) throws IOException {
        Path path = img.path();
        Map<String, String> meta = img.metadata();
        String version = meta.get(KEY_VERSION);
        if (version == null) throw SafeTensors.Image.bad(path, "not a Ballast checkpoint (no '" + KEY_VERSION + "' metadata)");
        if (!version.equals(Integer.toString(FORMAT_VERSION)))
            throw SafeTensors.Image.bad(path, "checkpoint format version " + version + " is not supported (this build reads " + FORMAT_VERSION + ")");
        String sha = meta.get(KEY_SHA);
        if (sha == null) throw SafeTensors.Image.bad(path, "missing data checksum '" + KEY_SHA + "'");
        String actual = img.dataSha256();
        if (!sha.equalsIgnoreCase(actual))
            throw SafeTensors.Image.bad(path, "checksum mismatch: data SHA-256 is " + actual + " but the header says " + sha + " (corrupt file)");
        long step = parseLong(path, meta, KEY_STEP, true);
        Long seed = meta.containsKey(KEY_SEED) ? parseLong(path, meta, KEY_SEED, false) : null;
        Long offset = seed == null ? null : parseLong(path, meta, KEY_OFFSET, true);
        Map<String, String> hyper = new LinkedHashMap<>();
        String optJson = meta.get(KEY_OPTIM);
        if (optJson != null) {
            try {
                for (var e : Json.parseObject(optJson).entrySet()) {
                    if (!(e.getValue() instanceof String s)) throw new IllegalArgumentException("value of '" + e.getKey() + "' is not a string");
                    hyper.put(e.getKey(), s);
                }
            } catch (IllegalArgumentException e) {
                throw SafeTensors.Image.bad(path, "bad optimizer hyperparameters in '" + KEY_OPTIM + "': " + e.getMessage());
            }
        }
        return new Info(step, seed, offset, java.util.Collections.unmodifiableMap(hyper), meta);
    }

    private static long parseLong(Path path, Map<String, String> meta, String key, boolean nonNegative) throws IOException {
        String v = meta.get(key);
        if (v == null) throw SafeTensors.Image.bad(path, "missing metadata '" + key + "'");
        try {
            long l = Long.parseLong(v);
            if (nonNegative && l < 0) throw SafeTensors.Image.bad(path, "metadata '" + key + "' is negative: " + v);
            return l;
        } catch (NumberFormatException e) {
            throw SafeTensors.Image.bad(path, "metadata '" + key + "' is not an integer: " + v);
        }
    }
}
