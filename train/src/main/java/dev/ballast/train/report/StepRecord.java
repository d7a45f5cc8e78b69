package dev.ballast.train.report;

import java.util.Map;

/**
 * What a run recorded at one logged step. Absent numbers are NaN: {@code loss} when the step was not logged,
 * {@code gradNorm} and {@code layerGradNorms} when gradients were not measured, {@code lossScale} when the run had no
 * loss scaling. {@code gradNorm} is the global L2 norm of the gradients before clipping (divided by the loss scale
 * when there is one); {@code layerGradNorms} follows {@link RunLog#layers()}; {@code eval} holds the test metrics of
 * an evaluation at this step (empty when there was none); {@code extra} holds further measurements by name (e.g.
 * {@value #FIRST_LAYER_ZERO_GRADS}).
 */
public record StepRecord(long step, double loss, double lr, double gradNorm, double[] layerGradNorms, double lossScale,
                         boolean skipped, Map<String, Double> eval, Map<String, Double> extra, double timeS) {
    /** The fraction of the first layer's weight-gradient entries that are exactly zero. */
    public static final String FIRST_LAYER_ZERO_GRADS = "first_layer_zero_grad_fraction";

    public StepRecord {
        layerGradNorms = layerGradNorms == null ? new double[0] : layerGradNorms.clone();
        // sorted by name, so files and pages list them in one order
        eval = eval == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(eval));
        extra = extra == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(extra));
    }

    @Override
    public double[] layerGradNorms() { return layerGradNorms.clone(); }

    /** The gradient norm of layer {@code i} (NaN when not measured). */
    public double layerGradNorm(int i) { return i < layerGradNorms.length ? layerGradNorms[i] : Double.NaN; }

    /** The extra measurement {@code name}, NaN when absent. */
    public double extra(String name) { return extra.getOrDefault(name, Double.NaN); }
}
