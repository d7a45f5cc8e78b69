package dev.ballast.engine;

import dev.ballast.engine.backend.Backend;
import dev.ballast.engine.backend.BackendProvider;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Where tensors live and ops run: a handle on one opened {@link Backend}. Backends are discovered with
 * {@link ServiceLoader}; {@link #auto()} picks the highest-priority one that opens (CUDA over CPU) and
 * keeps why the others were passed over. Backends are opened once per JVM and shared.
 */
public record Device(Backend backend) {

    /** One line per known backend: whether it opened, and why not. */
    public record Status(String name, int priority, boolean available, String detail) {}

    private static volatile List<Status> statuses;
    private static final java.util.Map<String, Backend> opened = new java.util.concurrent.ConcurrentHashMap<>();
    private static volatile Device auto;

    /** The backend's name, "cpu" or "cuda". */
    public String name() { return backend.name(); }

    /** The best backend that answers: CUDA when a driver and GPU are there, else the CPU. */
    public static Device auto() {
        Device d = auto;
        if (d == null) {
            synchronized (Device.class) {
                if (auto == null) {
                    probeAll();
                    Status best = statuses.stream().filter(Status::available)
                            .max(Comparator.comparingInt(Status::priority))
                            .orElseThrow(() -> new IllegalStateException("no backend available: " + statuses));
                    auto = new Device(opened.get(best.name()));
                }
                d = auto;
            }
        }
        return d;
    }

    /** The CPU backend. */
    public static Device cpu() { return named("cpu"); }

    /**
     * The backend with this name ("cpu", "cuda", or "auto"); throws with the reason when it is not
     * available and with the allowed names when it is unknown.
     */
    public static Device named(String name) {
        if (name.equalsIgnoreCase("auto")) return auto();
        probeAll();
        for (Status s : statuses) {
            if (s.name().equalsIgnoreCase(name)) {
                if (!s.available()) throw new IllegalStateException("device '" + name + "' is unavailable: " + s.detail());
                return new Device(opened.get(s.name()));
            }
        }
        throw new IllegalArgumentException("unknown device '" + name + "'; allowed: auto, "
                + String.join(", ", statuses.stream().map(Status::name).toList()));
    }

    /** Every backend found on the class path, with whether it opened and why not. */
    public static List<Status> statuses() {
        probeAll();
        return statuses;
    }

    /** The reason {@link #auto()} picked what it picked, in one line. */
    public static String autoReason() {
        Device d = auto();
        StringBuilder sb = new StringBuilder(d.name());
        for (Status s : statuses()) {
            if (!s.available() && s.priority() > priorityOf(d.name()))
                sb.append(" (").append(s.name()).append(" unavailable: ").append(s.detail()).append(')');
        }
        return sb.toString();
    }

    private static int priorityOf(String name) {
        for (Status s : statuses()) if (s.name().equals(name)) return s.priority();
        return 0;
    }

    private static synchronized void probeAll() {
        if (statuses != null) return;
        List<Status> list = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            BackendProvider.Probe probe;
            try {
                probe = p.open();
            } catch (RuntimeException | LinkageError e) {
                probe = new BackendProvider.Probe.Unavailable(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            switch (probe) {
                case BackendProvider.Probe.Available a -> {
                    opened.put(p.name(), a.backend());
                    list.add(new Status(p.name(), p.priority(), true, a.backend().description()));
                }
                case BackendProvider.Probe.Unavailable u -> list.add(new Status(p.name(), p.priority(), false, u.reason()));
            }
        }
        list.sort(Comparator.comparingInt(Status::priority).reversed());
        statuses = List.copyOf(list);
    }

    @Override public String toString() { return name(); }
}
