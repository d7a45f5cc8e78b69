/**
 * JMH benchmarks of the hot paths (matmul, elementwise, norm pass, fused AdamW, copy) and their shared fixture.
 * <p>Used only by JMH; must not be referenced from product code.
 */
package dev.ballast.bench.jmh;
