/**
 * The NVRTC binding through FFM: compiles the {@code .cu} kernel sources at run time.
 * <p>Raw binding; must not depend on tensors.
 */
package dev.ballast.cuda.nvrtc;
