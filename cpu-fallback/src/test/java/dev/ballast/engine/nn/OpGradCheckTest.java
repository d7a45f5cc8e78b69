package dev.ballast.engine.nn;

import static dev.ballast.engine.GradCheck.awayFromZero;
import static dev.ballast.engine.GradCheck.normal;
import static dev.ballast.engine.GradCheck.uniform;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import dev.ballast.engine.DType;
import dev.ballast.engine.GradCheck;
import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** Every differentiable Tensor op against float64 central finite differences, on fresh random inputs. */
class OpGradCheckTest {
    private final Random rng = new Random(20240611);

    private DynamicTest unary(String name, Function<Tensor, Tensor> op, Tensor x) {
        return dynamicTest(name, () -> GradCheck.check(name, () -> op.apply(x), x));
    }

    private DynamicTest test(String name, Supplier<Tensor> f, Tensor... wrt) {
        return dynamicTest(name, () -> GradCheck.check(name, f, wrt));
    }

    private Tensor idx(long[] values, long... shape) { return Tensor.fromArray(GradCheck.cpu(), values, shape); }

    @TestFactory
    Stream<DynamicTest> unaryOps() {
        List<DynamicTest> t = new ArrayList<>();
        t.add(unary("neg", Tensor::neg, normal(rng, 3, 4)));
        t.add(unary("abs", Tensor::abs, awayFromZero(rng, 3, 4)));
        t.add(unary("exp", Tensor::exp, normal(rng, 3, 4)));
        t.add(unary("log", Tensor::log, uniform(rng, 0.3, 3, 3, 4)));
        t.add(unary("sqrt", Tensor::sqrt, uniform(rng, 0.3, 3, 3, 4)));
        t.add(unary("rsqrt", Tensor::rsqrt, uniform(rng, 0.3, 3, 3, 4)));
        t.add(unary("tanh", Tensor::tanh, normal(rng, 3, 4)));
        t.add(unary("sigmoid", Tensor::sigmoid, normal(rng, 3, 4)));
        t.add(unary("relu", Tensor::relu, awayFromZero(rng, 3, 4)));
        t.add(unary("gelu", Tensor::gelu, normal(rng, 3, 4)));
        t.add(unary("sin", Tensor::sin, normal(rng, 3, 4)));
        t.add(unary("cos", Tensor::cos, normal(rng, 3, 4)));
        t.add(unary("square", Tensor::square, normal(rng, 3, 4)));
        t.add(unary("reciprocal", Tensor::reciprocal, awayFromZero(rng, 3, 4)));
        t.add(unary("erf", Tensor::erf, normal(rng, 3, 4)));
        t.add(unary("leakyRelu", x -> x.leakyRelu(0.1), awayFromZero(rng, 3, 4)));
        t.add(unary("sign (zero gradient)", x -> x.sign().add(x), awayFromZero(rng, 5)));
        t.add(unary("chain exp(sin(x))*x", x -> x.sin().exp().mul(x), normal(rng, 2, 3)));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> binaryOpsWithBroadcasting() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor a = normal(rng, 3, 1, 4), b = normal(rng, 2, 4);
        t.add(test("add broadcast", () -> a.add(b), a, b));
        t.add(test("sub broadcast", () -> a.sub(b), a, b));
        t.add(test("mul broadcast", () -> a.mul(b), a, b));
        Tensor d = awayFromZero(rng, 2, 4);
        t.add(test("div broadcast", () -> a.div(d), a, d));
        Tensor base = uniform(rng, 0.5, 2, 3, 1, 4), ex = normal(rng, 4);
        t.add(test("pow tensor^tensor", () -> base.pow(ex), base, ex));
        Tensor m1 = normal(rng, 3, 4), m2 = normal(rng, 1, 4);
        t.add(test("maximum", () -> m1.maximum(m2), m1, m2));
        t.add(test("minimum", () -> m1.minimum(m2), m1, m2));
        Tensor s = normal(rng), v = normal(rng, 5);
        t.add(test("0-d with vector", () -> s.mul(v).add(s), s, v));
        Tensor same = normal(rng, 3, 4);
        t.add(test("same tensor twice", () -> same.mul(same).sub(same), same));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> scalarOps() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor x = normal(rng, 2, 3), p = uniform(rng, 0.4, 2.5, 2, 3), nz = awayFromZero(rng, 2, 3);
        t.add(unary("add scalar", y -> y.add(1.5), x));
        t.add(unary("sub scalar", y -> y.sub(0.7), x));
        t.add(unary("rsub scalar", y -> y.rsub(2), x));
        t.add(unary("mul scalar", y -> y.mul(-3), x));
        t.add(unary("div scalar", y -> y.div(4), x));
        t.add(unary("rdiv scalar", y -> y.rdiv(2), nz));
        t.add(unary("pow scalar exponent", y -> y.pow(2.5), p));
        t.add(unary("pow integer exponent on negatives", y -> y.pow(3), nz));
        t.add(unary("maximum scalar", y -> y.maximum(0.1), nz));
        t.add(unary("minimum scalar", y -> y.minimum(-0.1), nz));
        t.add(unary("clamp", y -> y.clamp(-0.5, 0.6), awayFromZero(rng, 3, 4)));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> whereOp() {
        Tensor a = normal(rng, 3, 4), b = normal(rng, 4);
        Tensor cond = Tensor.fromArray(GradCheck.cpu(), DType.F64, new double[]{1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0}, 3, 4);
        return Stream.of(test("where with broadcast b", () -> Tensor.where(cond, a, b), a, b),
                test("where from comparison", () -> Tensor.where(a.gt(0), a.mul(2), a.square()), a));
    }

    @TestFactory
    Stream<DynamicTest> reductions() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor x = normal(rng, 2, 3, 4);
        t.add(unary("sum all", Tensor::sum, x));
        t.add(unary("sum axis 1", y -> y.sum(1, false), x));
        t.add(unary("sum axes 0,2 keepDim", y -> y.sum(new int[]{0, 2}, true), x));
        t.add(unary("mean all", Tensor::mean, x));
        t.add(unary("mean axis -1", y -> y.mean(-1, false), x));
        t.add(unary("mean axes 0,1 keepDim", y -> y.mean(new int[]{0, 1}, true), x));
        t.add(unary("max all", Tensor::max, x));
        t.add(unary("max axis 1", y -> y.max(1, false), x));
        t.add(unary("max axes 0,2 keepDim", y -> y.max(new int[]{0, 2}, true), x));
        t.add(unary("min axis 2", y -> y.min(2, true), x));
        t.add(unary("var unbiased axis 2", y -> y.var(new int[]{2}, 1, false), x));
        t.add(unary("var biased axes 0,2", y -> y.var(new int[]{0, 2}, 0, true), x));
        t.add(unary("norm 2 all", y -> y.norm(2), x));
        t.add(unary("norm 1 axis 1", y -> y.norm(1, new int[]{1}, false), awayFromZero(rng, 2, 3, 4)));
        t.add(unary("norm inf axis 2", y -> y.norm(Double.POSITIVE_INFINITY, new int[]{2}, false), x));
        t.add(unary("norm 3 axes 0,1", y -> y.norm(3, new int[]{0, 1}, true), awayFromZero(rng, 2, 3, 4)));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> views() {
        List<DynamicTest> t = new ArrayList<>();
        Tensor x = normal(rng, 2, 3, 4);
        t.add(unary("reshape", y -> y.reshape(4, 6), x));
        t.add(unary("reshape of permuted (copy)", y -> y.permute(2, 0, 1).reshape(-1, 3), x));
        t.add(unary("view", y -> y.view(6, 4).mul(y.view(6, 4)), x));
        t.add(unary("flatten", Tensor::flatten, x));
        t.add(unary("permute", y -> y.permute(2, 0, 1), x));
        t.add(unary("transpose/mT", Tensor::mT, x));
        t.add(unary("narrow", y -> y.narrow(2, 1, 2), x));
        t.add(unary("slice with step", y -> y.slice(2, 0, 4, 2), x));
        t.add(unary("slice negative bounds", y -> y.slice(1, -2, 3, 1), x));
        t.add(unary("select", y -> y.select(1, 2), x));
        t.add(unary("expand", y -> y.narrow(1, 0, 1).expand(2, 5, 4), x));
        t.add(unary("unsqueeze/squeeze", y -> y.unsqueeze(1).mul(2).squeeze(1), x));
        t.add(unary("split then recombine", y -> {
            List<Tensor> parts = y.split(new long[]{1, 3}, 2);
            return parts.get(0).mul(parts.get(1));
        }, x));
        t.add(unary("copy/contiguous", y -> y.permute(1, 0, 2).contiguous().mul(y.permute(1, 0, 2).copy()), x));
        return t.stream();
    }

    @TestFactory
    Stream<DynamicTest> concatStack() {
        Tensor a = normal(rng, 2, 3), b = normal(rng, 2, 1), c = normal(rng, 2, 3);
        return Stream.of(
                test("concat axis 1", () -> Tensor.concat(List.of(a, b, c), 1), a, b, c),
                test("concat axis 0 with repeat", () -> Tensor.concat(List.of(a, c, a), 0), a, c),
                test("stack axis 0", () -> Tensor.stack(List.of(a, c), 0), a, c),
                test("stack axis 2", () -> Tensor.stack(List.of(a, c), 2), a, c));
    }

    @TestFactory
    Stream<DynamicTest> indexing() {
        Tensor x = normal(rng, 5, 3);
        Tensor rows = idx(new long[]{4, 0, 4, 2}, 4);
        Tensor y = normal(rng, 3, 4);
        Tensor gi = idx(new long[]{0, 3, 3, 1, 2, 2, 0, 0, 1}, 3, 3);
        Tensor self = normal(rng, 3, 5), src = normal(rng, 3, 2);
        Tensor si = idx(new long[]{4, 4, 0, 1, 2, 0}, 3, 2);
        return Stream.of(
                test("indexSelect axis 0 with repeats", () -> x.indexSelect(0, rows), x),
                test("indexSelect axis 1", () -> x.indexSelect(1, idx(new long[]{2, 2, 0}, 3)), x),
                test("gather axis 1", () -> y.gather(1, gi), y),
                test("gather axis 0", () -> y.gather(0, idx(new long[]{2, 1, 0, 2, 0, 0, 1, 1}, 2, 4)), y),
                test("scatterAdd axis 1", () -> self.scatterAdd(1, si, src), self, src));
    }

    @TestFactory
    Stream<DynamicTest> matmul() {
        Tensor v = normal(rng, 4), w = normal(rng, 4);
        Tensor m = normal(rng, 3, 4), n = normal(rng, 4, 5);
        Tensor b1 = normal(rng, 2, 1, 3, 4), b2 = normal(rng, 3, 4, 2);
        return Stream.of(
                test("matmul 1-D x 1-D", () -> v.matmul(w), v, w),
                test("matmul 2-D x 1-D", () -> m.matmul(v), m, v),
                test("matmul 1-D x 2-D", () -> v.matmul(n), v, n),
                test("matmul 2-D x 2-D", () -> m.matmul(n), m, n),
                test("matmul batched broadcast", () -> b1.matmul(b2), b1, b2),
                test("matmul batched x 2-D", () -> b1.matmul(n), b1, n),
                test("matmul transposed operands", () -> n.mT().matmul(m.mT()), m, n));
    }

    @TestFactory
    Stream<DynamicTest> softmaxAndCasts() {
        Tensor x = normal(rng, 3, 5);
        Tensor x3 = normal(rng, 2, 3, 4);
        return Stream.of(
                unary("softmax last axis", y -> y.softmax(-1), x),
                unary("softmax axis 0", y -> y.softmax(0), x),
                unary("softmax middle axis", y -> y.softmax(1), x3),
                unary("logSoftmax last axis", y -> y.logSoftmax(-1), x),
                unary("logSoftmax axis 1 of 3-D", y -> y.logSoftmax(1), x3),
                dynamicTest("to(f32) and back (f32 precision)", () -> {
                    Tensor z = normal(rng, 3, 4);
                    GradCheck.of("to f32", () -> z.to(DType.F32).mul(z.to(DType.F32)).to(DType.F64), z)
                            .eps(1e-2).rtol(2e-3).atol(1e-4).run();
                }));
    }
}
