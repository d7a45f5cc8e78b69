package dev.ballast.stability.monitor;

import java.util.List;

/**
 * Where non-finite gradients were first seen: the step, the parameter whose gradient went non-finite first in
 * backward order (the last affected one in parameter order, nearest the loss), how many of its values, every other
 * affected parameter, and, where an anomaly-mode replay of the step found it, the op and module that produced the
 * first non-finite value (empty strings otherwise).
 */
public record NonFiniteOrigin(long step, String parameter, long count, long numel, List<String> affected, String op,
                              String module, boolean inBackward) {
    public NonFiniteOrigin {
        affected = List.copyOf(affected);
    }

    /** The same origin with the op and module an anomaly-mode replay named. */
    public NonFiniteOrigin withAnomaly(String op, String module, boolean inBackward) {
        return new NonFiniteOrigin(step, parameter, count, numel, affected, op, module, inBackward);
    }

    /** One line for people: parameter, counts, op and module when known. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        if (parameter.isEmpty()) sb.append("first non-finite value at step ").append(step);
        else sb.append("first non-finite gradient at step ").append(step).append(" in '").append(parameter).append("' (")
                .append(count).append(" of ").append(numel).append(" values)");
        if (affected.size() > 1) sb.append(", ").append(affected.size()).append(" parameters affected");
        if (!op.isEmpty()) {
            sb.append(parameter.isEmpty() ? " " : "; ").append("produced by op '").append(op).append("'").append(inBackward ? " in backward" : " in forward");
            if (!module.isEmpty()) sb.append(" in module '").append(module).append("'");
        }
        return sb.toString();
    }

    /** The origin in one snapshot: null when every gradient was finite. */
    public static NonFiniteOrigin of(HealthSnapshot s) {
        List<String> affected = new java.util.ArrayList<>();
        ParamStats first = null;
        for (ParamStats p : s.params()) {
            if (p.nonFinite() == 0) continue;
            affected.add(p.name());
            first = p; // backward reaches later parameters first
        }
        if (first == null) return null;
        return new NonFiniteOrigin(s.step(), first.name(), first.nonFinite(), first.numel(), affected, "", "", false);
    }
}
