package dev.ballast.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ballast.engine.DType;
import dev.ballast.engine.Device;
import dev.ballast.engine.Generator;
import dev.ballast.engine.Tensor;
import dev.ballast.engine.autograd.AnomalyException;
import dev.ballast.engine.autograd.GradMode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Names, paths, modes, state dicts and anomaly reporting of {@link Module}. */
class ModuleTest {
    static ParamSpec spec(long seed) { return new ParamSpec(Device.cpu(), DType.F32, new Generator(seed)); }

    /** log(x): NaN for negative inputs, to trigger anomaly mode inside a registered submodule. */
    static final class Log extends Module {
        @Override protected Tensor forward(Tensor x) { return x.log(); }
    }

    /** sqrt(x): its gradient at 0 is infinite, an anomaly that appears only in backward. */
    static final class Sqrt extends Module {
        @Override protected Tensor forward(Tensor x) { return x.sqrt(); }
    }

    static final class Net extends Module {
        final Sequential layers;
        final BatchNorm1d norm;
        final Linear head;

        Net(ParamSpec s, Module middle) {
            layers = registerModule("layers", new Sequential(new Linear(3, 4, s), middle, new Linear(4, 4, s)));
            norm = registerModule("norm", new BatchNorm1d(4, s));
            head = registerModule("head", new Linear(4, 2, s));
        }

        @Override protected Tensor forward(Tensor x) { return head.call(norm.call(layers.call(x))); }
    }

    static final class Gpt extends Module {
        final Sequential blocks;

        Gpt(ParamSpec s, int n) {
            blocks = new Sequential();
            for (int i = 0; i < n; i++) blocks.add(new TransformerBlock(8, 2, true, s));
            registerModule("blocks", blocks); // registered after its children were built: paths must follow
        }

        @Override protected Tensor forward(Tensor x) { return blocks.call(x); }
    }

    @Test
    void namesAndPathsAreHierarchicalAndOrdered() {
        Net net = new Net(spec(1), new ReLU());
        assertEquals(List.of("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "norm.weight", "norm.bias",
                "head.weight", "head.bias"), List.copyOf(net.namedParameters().keySet()));
        assertEquals(List.of("norm.running_mean", "norm.running_var", "norm.num_batches_tracked"), List.copyOf(net.namedBuffers().keySet()));
        assertEquals(List.of("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "norm.weight", "norm.bias",
                "norm.running_mean", "norm.running_var", "norm.num_batches_tracked", "head.weight", "head.bias"),
                List.copyOf(net.stateDict().keySet()));
        assertEquals("", net.path());
        assertEquals("layers", net.layers.path());
        assertEquals("layers.1", net.layers.get(1).path());
        assertEquals("head", net.head.path());
        assertEquals(3 * 4 + 4 + 16 + 4 + 4 + 4 + 8 + 2, net.parameterCount());
        for (Tensor p : net.parameters()) assertTrue(p.requiresGrad() && p.isLeaf());

        Gpt gpt = new Gpt(spec(2), 4);
        assertTrue(gpt.namedParameters().containsKey("blocks.3.mlp.fc1.weight"));
        assertTrue(gpt.namedParameters().containsKey("blocks.1.attn.out_proj.bias"));
        assertTrue(gpt.namedParameters().containsKey("blocks.0.attn.in_proj_weight"));
        assertEquals("blocks.2.attn.out_proj", gpt.namedModules().get("blocks.2.attn.out_proj").path());
        assertEquals("blocks.3.mlp.fc1", ((TransformerBlock) gpt.blocks.get(3)).namedModules().get("mlp.fc1").path());
        // relative names from a child
        assertTrue(gpt.blocks.get(3).namedParameters().containsKey("mlp.fc1.weight"));
    }

    @Test
    void registrationErrorsAreClear() {
        Linear shared = new Linear(2, 2, spec(3));
        new Sequential(shared);
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> new Sequential(shared));
        assertTrue(twice.getMessage().contains("already has a parent"), twice.getMessage());
        class Dup extends Module {
            Dup() {
                registerParameter("w", Tensor.zeros(2));
                registerBuffer("w", Tensor.zeros(2));
            }
            @Override protected Tensor forward(Tensor x) { return x; }
        }
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, Dup::new);
        assertTrue(dup.getMessage().contains("'w' is already registered"), dup.getMessage());
        class BadName extends Module {
            BadName() { registerModule("a.b", new ReLU()); }
            @Override protected Tensor forward(Tensor x) { return x; }
        }
        assertThrows(IllegalArgumentException.class, BadName::new);
    }

    @Test
    void trainEvalIsRecursive() {
        Net net = new Net(spec(4), new Dropout(0.5, new Generator(1)));
        assertTrue(net.isTraining());
        net.eval();
        for (Module m : net.namedModules().values()) assertFalse(m.isTraining(), m.path());
        net.train();
        for (Module m : net.namedModules().values()) assertTrue(m.isTraining(), m.path());
    }

    @Test
    void zeroGradClearsEveryParameter() {
        Net net = new Net(spec(5), new Tanh());
        Tensor x = Tensor.randn(new Generator(9), Device.cpu(), 6, 3);
        net.call(x).square().sum().backward();
        for (var e : net.namedParameters().entrySet()) assertNotNull(e.getValue().grad(), e.getKey());
        net.zeroGrad();
        for (var e : net.namedParameters().entrySet()) assertNull(e.getValue().grad(), e.getKey());
    }

    @Test
    void stateDictRoundTrip() {
        Net a = new Net(spec(6), new Tanh());
        Tensor x = Tensor.randn(new Generator(10), Device.cpu(), 8, 3);
        a.call(x); // moves the running statistics
        a.eval();
        Net b = new Net(spec(7), new Tanh());
        b.eval();
        assertFalse(java.util.Arrays.equals(a.call(x).toDoubleArray(), b.call(x).toDoubleArray()));
        Net.LoadResult r = b.loadStateDict(a.stateDict(), true);
        assertTrue(r.isClean());
        assertArrayEquals(a.call(x).toDoubleArray(), b.call(x).toDoubleArray());
        assertEquals(1, b.norm.batchesTracked());
        assertArrayEquals(a.norm.runningVar().toDoubleArray(), b.norm.runningVar().toDoubleArray());
        // the copy is independent of the source
        a.head.weight().detach().fill(0); // a parameter changed outside autograd
        assertNotEquals0(b.head.weight());
    }

    private static void assertNotEquals0(Tensor t) {
        boolean any = false;
        for (double v : t.toDoubleArray()) any |= v != 0;
        assertTrue(any, "values were shared instead of copied");
    }

    @Test
    void stateDictErrorsNameKeysAndShapes() {
        Net a = new Net(spec(8), new Tanh());
        Net b = new Net(spec(9), new Tanh());
        double[] before = b.head.weight().toDoubleArray();

        Map<String, Tensor> missing = new LinkedHashMap<>(a.stateDict());
        missing.remove("layers.2.bias");
        missing.put("layers.9.weight", Tensor.zeros(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(missing, true));
        assertTrue(e.getMessage().contains("missing keys: [layers.2.bias]"), e.getMessage());
        assertTrue(e.getMessage().contains("unexpected keys: [layers.9.weight]"), e.getMessage());
        assertArrayEquals(before, b.head.weight().toDoubleArray(), "nothing is copied when loading fails");

        Net.LoadResult r = b.loadStateDict(missing, false);
        assertEquals(List.of("layers.2.bias"), r.missingKeys());
        assertEquals(List.of("layers.9.weight"), r.unexpectedKeys());
        assertArrayEquals(a.head.weight().toDoubleArray(), b.head.weight().toDoubleArray());

        Map<String, Tensor> wrongShape = new LinkedHashMap<>(a.stateDict());
        wrongShape.put("head.weight", Tensor.zeros(3, 4));
        IllegalArgumentException s = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(wrongShape, false));
        assertTrue(s.getMessage().contains("'head.weight'") && s.getMessage().contains("[3, 4]") && s.getMessage().contains("[2, 4]"),
                s.getMessage());
    }

    @Test
    void anomalyModeNamesTheModuleThatMadeNaN() {
        Net net = new Net(spec(11), new Log());
        Tensor x = Tensor.randn(new Generator(12), Device.cpu(), 4, 3);
        try (GradMode.Guard g = GradMode.detectAnomaly()) {
            AnomalyException e = assertThrows(AnomalyException.class, () -> net.call(x));
            assertEquals("layers.1", e.module());
            assertEquals("log", e.op());
            assertFalse(e.inBackward());
            assertTrue(e.getMessage().contains("'layers.1'"), e.getMessage());
        }
        // without anomaly mode the NaN goes through silently
        assertTrue(Double.isNaN(net.call(x).sum().item()));
    }

    @Test
    void anomalyModeNamesTheModuleInBackward() {
        Sequential seq = new Sequential(new ReLU(), new Sqrt());
        class Root extends Module {
            final Sequential layers = registerModule("layers", seq);
            @Override protected Tensor forward(Tensor x) { return layers.call(x); }
        }
        Root root = new Root();
        Tensor x = Tensor.fromArray(Device.cpu(), new float[]{-1, 2, 3}, 3).requiresGrad(true);
        try (GradMode.Guard g = GradMode.detectAnomaly()) {
            Tensor y = root.call(x).sum(); // sqrt(relu(-1)) = 0: finite forward, infinite gradient
            AnomalyException e = assertThrows(AnomalyException.class, y::backward);
            assertTrue(e.inBackward());
            assertEquals("layers.1", e.module(), e.getMessage());
        }
    }
}
