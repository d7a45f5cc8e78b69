package dev.ballast.engine.init;

import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;

/**
 * How a layer initializes its weight and bias: the one constructor argument that picks an init scheme
 * ({@link #pytorchDefault()} unless told otherwise). The PyTorch default draws the bias from
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the other factories set the bias to zero, as is usual with them.
 */
public interface WeightInit {

    /** Overwrites {@code weight} in place and returns it. */
    Tensor initWeight(Tensor weight, Generator gen);

    /** Overwrites {@code bias} in place and returns it; {@code fanIn} is the weight's fan-in. */
    Tensor initBias(Tensor bias, long fanIn, Generator gen);

    /** A short name for messages ("pytorch-default", "xavier-uniform(gain=1.0)"). */
    String name();

    /** torch.nn.Linear's reset_parameters: kaiming_uniform(a = sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias. */
    static WeightInit pytorchDefault() {
        return new Scheme("pytorch-default",
                (w, g) -> Init.kaimingUniform(w, Math.sqrt(5), Init.FanMode.FAN_IN, "leaky_relu", g), false);
    }

    /** Xavier/Glorot uniform weight with {@code gain}, zero bias. */
    static WeightInit xavierUniform(double gain) {
        return new Scheme("xavier-uniform(gain=" + gain + ")", (w, g) -> Init.xavierUniform(w, gain, g), true);
    }

    /** Xavier/Glorot normal weight with {@code gain}, zero bias. */
    static WeightInit xavierNormal(double gain) {
        return new Scheme("xavier-normal(gain=" + gain + ")", (w, g) -> Init.xavierNormal(w, gain, g), true);
    }

    /** Kaiming/He uniform weight (fan_in) for the nonlinearity, zero bias. */
    static WeightInit kaimingUniform(String nonlinearity) {
        return new Scheme("kaiming-uniform(" + nonlinearity + ")",
                (w, g) -> Init.kaimingUniform(w, 0, Init.FanMode.FAN_IN, nonlinearity, g), true);
    }

    /** Kaiming/He normal weight (fan_in) for the nonlinearity, zero bias. */
    static WeightInit kaimingNormal(String nonlinearity) {
        return new Scheme("kaiming-normal(" + nonlinearity + ")",
                (w, g) -> Init.kaimingNormal(w, 0, Init.FanMode.FAN_IN, nonlinearity, g), true);
    }

    /** Orthogonal weight scaled by {@code gain}, zero bias. */
    static WeightInit orthogonal(double gain) {
        return new Scheme("orthogonal(gain=" + gain + ")", (w, g) -> Init.orthogonal(w, gain, g), true);
    }

    /** N(0, std^2) weight, zero bias (GPT-2 style uses std 0.02). */
    static WeightInit normal(double std) {
        return new Scheme("normal(std=" + std + ")", (w, g) -> Init.normal(w, 0, std, g), true);
    }

    /** A scheme from a weight initializer; the bias is zero when {@code zeroBias}, else U(+-1/sqrt(fan_in)). */
    record Scheme(String name, java.util.function.BiConsumer<Tensor, Generator> weight, boolean zeroBias) implements WeightInit {
        @Override public Tensor initWeight(Tensor w, Generator gen) {
            weight.accept(w, gen);
            return w;
        }

        @Override public Tensor initBias(Tensor b, long fanIn, Generator gen) {
            if (zeroBias) return Init.zeros(b);
            double bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
            return Init.uniform(b, -bound, bound, gen);
        }
    }
}
