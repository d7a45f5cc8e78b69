package dev.ballast.engine.nn;

import dev.ballast.engine.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Modules applied in order, registered as "0", "1", ... (torch.nn.Sequential). */
public final class Sequential extends Module {
    private final List<Module> layers = new ArrayList<>();

    public Sequential(Module... modules) {
        for (Module m : modules) add(m);
    }

    public Sequential(List<? extends Module> modules) {
        for (Module m : modules) add(m);
    }

    /** Appends a module (registered under the next index); returns this. */
    public Sequential add(Module m) {
        layers.add(registerModule(Integer.toString(layers.size()), m));
        return this;
    }

    public Module get(int i) { return layers.get(i); }

    public int size() { return layers.size(); }

    public List<Module> layers() { return Collections.unmodifiableList(layers); }

    @Override
    protected Tensor forward(Tensor x) {
        Tensor y = x;
        for (Module m : layers) y = m.call(y);
        return y;
    }
}
