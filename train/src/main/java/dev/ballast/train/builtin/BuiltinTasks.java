package dev.ballast.train.builtin;

import dev.ballast.engine.Device;
import dev.ballast.engine.Scope;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.data.AddingProblem;
import dev.ballast.engine.data.Dataset;
import dev.ballast.engine.data.SequenceTasks;
import dev.ballast.engine.data.TeacherStudent;
import dev.ballast.engine.data.TemporalOrder;
import dev.ballast.engine.data.TwoSpirals;
import dev.ballast.engine.nn.Losses;
import java.util.Map;

/**
 * The built-in tasks of {@code ballast train}: a training set and a held-out test set drawn with different seeds,
 * what the model reads and must produce, the loss and the evaluation metric.
 * <ul>
 * <li>spirals: two spirals (1.5 turns, noise 0.02), 2 inputs, 2 classes; cross-entropy; metric accuracy.</li>
 * <li>spirals-hard: two spirals of 2 turns (noise 0.02): the arms are closer, so a net must draw a finer boundary;
 *     what a careless deep MLP fails at ({@code ballast demo}'s depth story).</li>
 * <li>adding: adding problem of length seqLen, {@code [T, 2]} inputs, one output; MSE; metric mse (predicting
 *     the mean scores about 0.167).</li>
 * <li>temporal-order: length seqLen, {@code [T, 8]} one-hot inputs, 4 classes; cross-entropy; metric accuracy.</li>
 * <li>teacher-student: a fixed random tanh teacher (10 inputs, 32 hidden units, 1 output, label noise 0.01);
 *     MSE; metric mse.</li>
 * <li>copy, sort: {@link SequenceTasks} over seqLen tokens from vocab symbols, decoder style (inputs
 *     {@code [2T]} tokens from vocab + 1 symbols, vocab classes per position); cross-entropy on the answer half;
 *     metric token_error (teacher-forced argmax error rate over the answer tokens).</li>
 * </ul>
 */
public final class BuiltinTasks {
    /** Teacher network sizes and label noise of the teacher-student task. */
    static final int TEACHER_IN = 10, TEACHER_HIDDEN = 32, TEACHER_OUT = 1;
    static final double TEACHER_NOISE = 0.01, SPIRAL_NOISE = 0.02;
    /** Turns and noise of spirals-hard. */
    static final double HARD_SPIRAL_TURNS = 2, HARD_SPIRAL_NOISE = 0.02;

    private BuiltinTasks() {}

    /** What a model reads: sealed over flat vectors, float sequences and token sequences (batch first). */
    public sealed interface Input {
        /** {@code [B, features]} floats. */
        record Vector(int features) implements Input {}

        /** {@code [B, steps, channels]} floats. */
        record Sequence(int steps, int channels) implements Input {}

        /** {@code [B, steps]} I64 token indices in {@code [0, vocab)}. */
        record Tokens(int steps, int vocab) implements Input {}
    }

    /** What a model must produce: {@code size} values per example ({@code [B, size]}) or per position ({@code [B, T, size]}). */
    public record Output(int size, boolean perPosition, boolean classification) {}

    /**
     * A task's data and scoring. The datasets belong to it ({@link #close()} frees them). {@code metric} names the
     * evaluation metric: "accuracy", "mse" or "token_error".
     */
    public record Task(String name, Dataset train, Dataset test, Input input, Output output, String metric) implements AutoCloseable {

        /** The training loss of a model output against targets (mean over examples or scored tokens). */
        public Tensor loss(Tensor out, Tensor target) {
            if (!output.classification()) return Losses.mse(out, target);
            if (output.perPosition()) return Losses.crossEntropy(out.reshape(-1, output.size()), target.reshape(target.numel()));
            return Losses.crossEntropy(out, target);
        }

        /**
         * {@code {loss * count, metric * count, count}} for one chunk, so chunks add up: count is the number of
         * examples (accuracy), scored tokens (token_error) or target elements (mse).
         */
        public double[] score(Tensor out, Tensor target) {
            double loss = loss(out, target).item();
            if (!output.classification()) {
                double n = target.numel();
                return new double[]{loss * n, loss * n, n};
            }
            if (output.perPosition()) {
                Tensor pred = out.argmax(-1, false);
                Tensor valid = target.ne((double) Losses.DEFAULT_IGNORE_INDEX);
                double n = valid.sum().item();
                double wrong = pred.ne(target).mul(valid).sum().item();
                return new double[]{loss * n, wrong, n};
            }
            double n = target.size(0);
            double correct = out.argmax(1, false).eq(target).sum().item();
            return new double[]{loss * n, correct, n};
        }

        /** Scores {@code model} on the test set in chunks of {@code chunk} examples: {@code {loss, <metric>}}. */
        public Map<String, Double> evaluate(java.util.function.UnaryOperator<Tensor> model, int chunk) {
            double[] sum = new double[3];
            long n = test.size();
            for (long s = 0; s < n; s += chunk) {
                try (Scope scope = Scope.open()) {
                    long len = Math.min(chunk, n - s);
                    double[] r = score(model.apply(test.inputs().narrow(0, s, len)), test.targets().narrow(0, s, len));
                    for (int i = 0; i < 3; i++) sum[i] += r[i];
                }
            }
            return Map.of("loss", sum[0] / sum[2], metric, sum[1] / sum[2]);
        }

        @Override
        public void close() {
            train.close();
            test.close();
        }
    }

    /** Builds the task of {@code c} on {@code device}: training data from one seed, test data from another. */
    public static Task build(TrainConfig c, Device device) {
        long trainSeed = c.seed() * 1_000_003L + 11, testSeed = c.seed() * 1_000_003L + 23;
        int t = c.seqLen();
        return switch (c.task()) {
            case "spirals" -> new Task(c.task(),
                    TwoSpirals.generate(device, c.trainSize() / 2, SPIRAL_NOISE, trainSeed),
                    TwoSpirals.generate(device, Math.max(1, c.testSize() / 2), SPIRAL_NOISE, testSeed),
                    new Input.Vector(2), new Output(2, false, true), "accuracy");
            case "spirals-hard" -> new Task(c.task(),
                    TwoSpirals.generate(device, c.trainSize() / 2, HARD_SPIRAL_TURNS, HARD_SPIRAL_NOISE, trainSeed),
                    TwoSpirals.generate(device, Math.max(1, c.testSize() / 2), HARD_SPIRAL_TURNS, HARD_SPIRAL_NOISE, testSeed),
                    new Input.Vector(2), new Output(2, false, true), "accuracy");
            case "adding" -> new Task(c.task(),
                    AddingProblem.generate(device, c.trainSize(), t, trainSeed),
                    AddingProblem.generate(device, c.testSize(), t, testSeed),
                    new Input.Sequence(t, 2), new Output(1, false, false), "mse");
            case "temporal-order" -> new Task(c.task(),
                    TemporalOrder.generate(device, c.trainSize(), t, trainSeed),
                    TemporalOrder.generate(device, c.testSize(), t, testSeed),
                    new Input.Sequence(t, TemporalOrder.NUM_SYMBOLS), new Output(TemporalOrder.NUM_CLASSES, false, true), "accuracy");
            case "teacher-student" -> {
                var teacher = TeacherStudent.teacher(TEACHER_IN, TEACHER_HIDDEN, TEACHER_OUT, c.seed() * 1_000_003L + 5);
                yield new Task(c.task(),
                        TeacherStudent.generate(device, teacher, c.trainSize(), TEACHER_NOISE, trainSeed),
                        TeacherStudent.generate(device, teacher, c.testSize(), TEACHER_NOISE, testSeed),
                        new Input.Vector(TEACHER_IN), new Output(TEACHER_OUT, false, false), "mse");
            }
            case "copy", "sort" -> {
                SequenceTasks.Kind kind = c.task().equals("copy") ? SequenceTasks.Kind.COPY : SequenceTasks.Kind.SORT;
                yield new Task(c.task(),
                        SequenceTasks.generate(device, kind, c.trainSize(), t, c.vocab(), trainSeed),
                        SequenceTasks.generate(device, kind, c.testSize(), t, c.vocab(), testSeed),
                        new Input.Tokens(2 * t, c.vocab() + 1), new Output(c.vocab(), true, true), "token_error");
            }
            default -> throw new ConfigException("task", "task: '" + c.task() + "' is not one of " + String.join(", ", TrainConfig.TASKS));
        };
    }
}
