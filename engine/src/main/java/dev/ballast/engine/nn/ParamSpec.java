package dev.ballast.engine.nn;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import java.util.Objects;

/**
 * Where and how a layer creates its parameters: the device, the dtype, and the seeded {@link Generator} its
 * initializers draw from (layers built in the same order from the same seed get the same values).
 */
public record ParamSpec(Device device, DType dtype, Generator generator) {
    public ParamSpec {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(generator, "generator");
        if (!dtype.isFloating())
            throw new IllegalArgumentException("parameters must be floating, got " + dtype + " (allowed: f32, f16, bf16, f64)");
    }

    /** F32 parameters on the automatic device, drawn from {@code gen}. */
    public static ParamSpec of(Generator gen) { return new ParamSpec(Device.auto(), DType.F32, gen); }

    /** F32 parameters on the automatic device, drawn from a generator seeded with {@code seed}. */
    public static ParamSpec seeded(long seed) { return of(new Generator(seed)); }

    /** The same spec with another dtype. */
    public ParamSpec withDType(DType t) { return new ParamSpec(device, t, generator); }

    /** The same spec on another device. */
    public ParamSpec on(Device d) { return new ParamSpec(d, dtype, generator); }

    /** A fresh uninitialized tensor for a parameter or buffer. */
    public Tensor empty(long... shape) { return Tensor.empty(device, dtype, shape); }

    /** A fresh tensor filled with {@code value}. */
    public Tensor full(double value, long... shape) { return Tensor.full(device, dtype, value, shape); }
}
