/**
 * Gradient health monitoring: per-parameter statistics computed on the device in one pass ({@link
 * dev.ballast.stability.monitor.GradStats}: gradient and weight norms, max |g|, zeros, non-finite values and a
 * log2-magnitude {@link dev.ballast.stability.monitor.Log2Histogram}), read back every K steps by the {@link
 * dev.ballast.stability.monitor.GradientMonitor} together with update-to-weight ratios and the provenance of the first
 * non-finite gradient.
 */
package dev.ballast.stability.monitor;
