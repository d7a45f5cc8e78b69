// Fused multi-tensor kernels: the gradient norm with its non-finite count, the clip coefficient,
// in-place scaling and the Adam/SGD updates (which also write the mixed-precision working copies),
// each ONE launch over any number of tensors.
// The tensors are described by a device-side table (built and cached by dev.ballast.cuda.ChunkTable):
// one TensorRef per tensor (k lists of n tensors: list j's tensor i at j * n + i) and one Chunk per
// CHUNK elements of the first list. A block takes whole chunks, so results never depend on grid size.
// Scalars that steer a step (coefficient, skip flag, step counter) are read from device memory:
// a step needs no host round-trip and can be captured in a CUDA graph.
// Optimizer arithmetic is float with explicitly rounded operations (__fmul_rn etc.: no FMA contraction),
// in the order of the CPU twin dev.ballast.cpu.fused.CpuMultiTensorOps, so both give the same bits.
#include "common.cuh"
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// Mirrors ChunkTable: 32 bytes per tensor, 16 per chunk.
struct TensorRef { u64 ptr; i64 numel; i64 first_chunk; int chunk_count; int dtype; };
struct Chunk { i64 start; int tensor; int length; };

// dev.ballast.engine.DType ordinals; NormKind ordinals; LrSchedule.Kind ordinals.
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_F64 = 3, DT_I32 = 4, DT_I64 = 5 };
enum { K_L1 = 0, K_L2 = 1, K_INF = 2, K_P = 3 };
enum { S_CONSTANT = 0, S_STEP = 1, S_COSINE = 2 };

__device__ __forceinline__ float widen(float x)         { return x; }
__device__ __forceinline__ float widen(__half x)        { return __half2float(x); }
__device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }

__device__ __forceinline__ bool finite(float x) { return (__float_as_uint(x) & 0x7f800000u) != 0x7f800000u; }

// A one-element scalar of any dtype as float (as the CPU twin's scalar()); dflt when p is null.
__device__ __forceinline__ float load_scalar(const void* p, int dt, float dflt) {
    if (p == nullptr) return dflt;
    switch (dt) {
        case DT_F32:  return *(const float*)p;
        case DT_F16:  return __half2float(*(const __half*)p);
        case DT_BF16: return __bfloat162float(*(const __nv_bfloat16*)p);
        case DT_F64:  return (float)*(const double*)p;
        case DT_I32:  return (float)*(const int*)p;
        default:      return (float)*(const i64*)p;
    }
}

// ------------------------------------------------------------------ norm

// Accumulate one value: NaN propagates through max as it does through sums.
__device__ __forceinline__ float acc_combine(int kind, float a, float b) {
    if (kind != K_INF) return a + b;
    return (is_nan(a) || a > b) ? a : b;
}

__device__ __forceinline__ float norm_term(int kind, float x, float p) {
    switch (kind) {
        case K_L2:  return x * x;
        case K_P:   return powf(fabsf(x), p);
        default:    return fabsf(x);
    }
}

// This thread's share of one chunk: 16-byte loads when the chunk is aligned, scalar otherwise.
template<typename T>
__device__ void chunk_terms(const T* x, int len, int kind, float p, float& acc, unsigned& bad) {
    int i0 = 0;
    if (aligned16(x)) {
        const int N = Pack<T>::N;
        const Pack<T>* v = (const Pack<T>*)x;
        for (int i = threadIdx.x; i < len / N; i += blockDim.x) {
            Pack<T> pk = v[i];
            for (int k = 0; k < N; k++) {
                float f = widen(pk.v[k]);
                bad += !finite(f);
                acc = acc_combine(kind, acc, norm_term(kind, f, p));
            }
        }
        i0 = len / N * N;
    }
    for (int i = i0 + threadIdx.x; i < len; i += blockDim.x) {
        float f = widen(x[i]);
        bad += !finite(f);
        acc = acc_combine(kind, acc, norm_term(kind, f, p));
    }
}

// One partial per chunk (F32 accumulator, non-finite count); no atomics, lane order fixed.
extern "C" __global__ void multi_tensor_norm(const TensorRef* tensors, const Chunk* chunks, i64 nchunks,
                                             int kind, float p, float* part_acc, unsigned* part_bad) {
    __shared__ float s_acc[32];
    __shared__ unsigned s_bad[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    for (i64 c = blockIdx.x; c < nchunks; c += gridDim.x) {
        Chunk ch = chunks[c];
        TensorRef t = tensors[ch.tensor];
        float acc = 0.f;
        unsigned bad = 0;
        switch (t.dtype) {
            case DT_F16:  chunk_terms((const __half*)t.ptr + ch.start, ch.length, kind, p, acc, bad); break;
            case DT_BF16: chunk_terms((const __nv_bfloat16*)t.ptr + ch.start, ch.length, kind, p, acc, bad); break;
            default:      chunk_terms((const float*)t.ptr + ch.start, ch.length, kind, p, acc, bad); break;
        }
        for (int o = 16; o > 0; o >>= 1) {
            acc = acc_combine(kind, acc, __shfl_down_sync(0xffffffffu, acc, o));
            bad += __shfl_down_sync(0xffffffffu, bad, o);
        }
        if (lane == 0) { s_acc[warp] = acc; s_bad[warp] = bad; }
        __syncthreads();
        if (warp == 0) {
            acc = lane < nwarps ? s_acc[lane] : 0.f;
            bad = lane < nwarps ? s_bad[lane] : 0u;
            for (int o = 16; o > 0; o >>= 1) {
                acc = acc_combine(kind, acc, __shfl_down_sync(0xffffffffu, acc, o));
                bad += __shfl_down_sync(0xffffffffu, bad, o);
            }
            if (lane == 0) { part_acc[c] = acc; part_bad[c] = bad; }
        }
        __syncthreads(); // shared slots are reused by the next chunk
    }
}

__device__ __forceinline__ double acc_combine64(int kind, double a, double b) {
    if (kind != K_INF) return a + b;
    if (is_nan(a) || is_nan(b)) return a + b; // NaN
    return a > b ? a : b;
}

// One block: each tensor's chunks summed in F64 in chunk order, then the tensors in index order by
// thread 0. per_tensor is the caller's output or the table's scratch. total = {combined, nonFinite}.
extern "C" __global__ void multi_tensor_norm_finish(const TensorRef* tensors, i64 ntensors, int kind,
                                                    const float* part_acc, const unsigned* part_bad,
                                                    double* per_tensor, double* total) {
    __shared__ unsigned long long s_bad;
    if (threadIdx.x == 0) s_bad = 0;
    __syncthreads();
    unsigned long long bad = 0;
    for (i64 i = threadIdx.x; i < ntensors; i += blockDim.x) {
        TensorRef t = tensors[i];
        double acc = 0.0;
        for (int k = 0; k < t.chunk_count; k++) {
            acc = acc_combine64(kind, acc, (double)part_acc[t.first_chunk + k]);
            bad += part_bad[t.first_chunk + k];
        }
        per_tensor[i] = acc;
    }
    atomicAdd(&s_bad, bad); // integer sum: the same for every order
    __syncthreads();
    if (threadIdx.x == 0) {
        double acc = 0.0;
        for (i64 i = 0; i < ntensors; i++) acc = acc_combine64(kind, acc, per_tensor[i]);
        total[0] = acc;
        total[1] = (double)s_bad;
    }
}

// out = {norm, min(maxNorm / (norm + 1e-6), 1), found} in float, as torch.nn.utils.clip_grad_norm_.
extern "C" __global__ void clip_coefficient(const double* total, int kind, double p, double max_norm, float* out) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double acc = total[0];
    double n64 = kind == K_L2 ? sqrt(acc) : (kind == K_P ? pow(acc, 1.0 / p) : acc);
    float norm = (float)n64;
    float q = __fdiv_rn((float)max_norm, __fadd_rn(norm, 1e-6f));
    float coef = (is_nan(q) || q < 1.0f) ? q : 1.0f;
    if (is_nan(norm)) coef = norm;
    out[0] = norm;
    out[1] = coef;
    out[2] = total[1] > 0.0 ? 1.0f : 0.0f;
}

// ------------------------------------------------------------------ scale

extern "C" __global__ void multi_tensor_scale(const TensorRef* tensors, const Chunk* chunks, i64 nchunks,
                                              const void* coef, int coef_dt) {
    float c = load_scalar(coef, coef_dt, 1.0f);
    for (i64 k = blockIdx.x; k < nchunks; k += gridDim.x) {
        Chunk ch = chunks[k];
        float* x = (float*)tensors[ch.tensor].ptr + ch.start;
        int i0 = 0;
        if (aligned16(x)) {
            float4* v = (float4*)x;
            for (int i = threadIdx.x; i < ch.length / 4; i += blockDim.x) {
                float4 a = v[i];
                a.x = __fmul_rn(a.x, c); a.y = __fmul_rn(a.y, c); a.z = __fmul_rn(a.z, c); a.w = __fmul_rn(a.w, c);
                v[i] = a;
            }
            i0 = ch.length / 4 * 4;
        }
        for (int i = i0 + threadIdx.x; i < ch.length; i += blockDim.x) x[i] = __fmul_rn(x[i], c);
    }
}

// ------------------------------------------------------------------ optimizer steps

// LrSchedule.at(t) in double, operation for operation.
__device__ double schedule_lr(int kind, double lr, i64 warmup, i64 step_size, double gamma, i64 t_max,
                              double eta_min, i64 t) {
    if (t <= warmup) return __ddiv_rn(__dmul_rn(lr, (double)t), (double)warmup);
    i64 s = t - warmup - 1; // >= 0, so floorDiv is plain division
    if (kind == S_STEP) return __dmul_rn(lr, pow(gamma, (double)(s / step_size)));
    if (kind == S_COSINE) {
        i64 m = s < t_max ? s : t_max;
        double c = cos(__ddiv_rn(__dmul_rn(3.141592653589793, (double)m), (double)t_max));
        return __dadd_rn(eta_min, __ddiv_rn(__dmul_rn(__dsub_rn(lr, eta_min), __dadd_rn(1.0, c)), 2.0));
    }
    return lr;
}

// The step counter moves only after the update kernel, and only when the step was taken, so every
// block of the update read the same t_old.
extern "C" __global__ void step_increment(double* step, const void* skip, int skip_dt) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    if (load_scalar(skip, skip_dt, 0.0f) != 0.0f) return;
    step[0] = step[0] + 1.0;
}

// The F16/BF16 working copy of a weight the update just wrote, rounded to nearest even (the CPU twin's
// Float.floatToFloat16 / HalfFloats.floatToBf16, and copy.cu's casts), stored in the update's own pass so
// mixed-precision runs need no second pass over the weights to refresh them.
__device__ __forceinline__ void store_copy(const TensorRef& c, i64 i, float x) {
    if (c.dtype == DT_F16) ((__half*)c.ptr)[i] = __float2half_rn(x);
    else                   ((__nv_bfloat16*)c.ptr)[i] = __float2bfloat16_rn(x);
}

// Lists: params [0, n), grads [n, 2n), exp_avg [2n, 3n), exp_avg_sq [3n, 4n); when copy_list >= 0 the working
// copies are list copy_list (4), [4n, 5n), each F16 or BF16 as its TensorRef says.
extern "C" __global__ void fused_adam(const TensorRef* tensors, const Chunk* chunks, i64 nchunks, i64 n,
                                      const void* coef_p, int coef_dt, const void* skip, int skip_dt,
                                      const void* lrf_p, int lrf_dt, const double* step, int sched, double lr0,
                                      i64 warmup, i64 step_size, double gamma, i64 t_max, double eta_min,
                                      double beta1, double beta2, double eps_d, double wd_d, int decoupled,
                                      int copy_list) {
    if (load_scalar(skip, skip_dt, 0.0f) != 0.0f) return; // skipped: write nothing
    float coef = load_scalar(coef_p, coef_dt, 1.0f);
    i64 t = (i64)(step[0] + 1.0);
    // the scheduled lr times the lr factor (the guard's backoff) in double, then one rounding, as the CPU twin:
    // a factor of 1 changes no bit; the moments and buffers below never see it (torch's lowered-lr semantics)
    float lr = (float)__dmul_rn(schedule_lr(sched, lr0, warmup, step_size, gamma, t_max, eta_min, t),
                                (double)load_scalar(lrf_p, lrf_dt, 1.0f));
    float b1 = (float)beta1, b2 = (float)beta2, eps = (float)eps_d, wd = (float)wd_d;
    float bc1 = (float)(1.0 - pow(beta1, (double)t));
    float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)t));
    float step_size_f = __fdiv_rn(lr, bc1);
    float decay = decoupled ? __fsub_rn(1.0f, __fmul_rn(lr, wd)) : 1.0f;
    float one_b1 = __fsub_rn(1.0f, b1), one_b2 = __fsub_rn(1.0f, b2);
    for (i64 k = blockIdx.x; k < nchunks; k += gridDim.x) {
        Chunk ch = chunks[k];
        float* p = (float*)tensors[ch.tensor].ptr + ch.start;
        const float* g = (const float*)tensors[n + ch.tensor].ptr + ch.start;
        float* m = (float*)tensors[2 * n + ch.tensor].ptr + ch.start;
        float* v = (float*)tensors[3 * n + ch.tensor].ptr + ch.start;
        bool copy = copy_list >= 0;
        TensorRef c = tensors[copy ? copy_list * n + ch.tensor : ch.tensor];
        for (int e = threadIdx.x; e < ch.length; e += blockDim.x) {
            float pv = p[e];
            float gv = __fmul_rn(g[e], coef);
            if (!decoupled && wd != 0.0f) gv = __fadd_rn(gv, __fmul_rn(wd, pv));
            pv = __fmul_rn(pv, decay);
            float mv = m[e];
            mv = __fadd_rn(mv, __fmul_rn(one_b1, __fsub_rn(gv, mv)));
            float vv = __fadd_rn(__fmul_rn(v[e], b2), __fmul_rn(__fmul_rn(one_b2, gv), gv));
            float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv), bc2_sqrt), eps);
            float pn = __fsub_rn(pv, __fmul_rn(step_size_f, __fdiv_rn(mv, denom)));
            p[e] = pn;
            if (copy) store_copy(c, ch.start + e, pn);
            m[e] = mv;
            v[e] = vv;
        }
    }
}

// Lists: params [0, n), grads [n, 2n), momentum buffers [2n, 3n) when has_buf; the working copies, when
// copy_list >= 0, are list copy_list (3 with buffers, else 2).
extern "C" __global__ void fused_sgd(const TensorRef* tensors, const Chunk* chunks, i64 nchunks, i64 n,
                                     const void* coef_p, int coef_dt, const void* skip, int skip_dt,
                                     const void* lrf_p, int lrf_dt, const double* step, int sched, double lr0,
                                     i64 warmup, i64 step_size, double gamma, i64 t_max, double eta_min,
                                     double momentum, double dampening, double wd_d, int nesterov, int has_buf,
                                     int copy_list) {
    if (load_scalar(skip, skip_dt, 0.0f) != 0.0f) return; // skipped: write nothing
    float coef = load_scalar(coef_p, coef_dt, 1.0f);
    i64 t = (i64)(step[0] + 1.0);
    // the scheduled lr times the lr factor (the guard's backoff) in double, then one rounding, as the CPU twin:
    // a factor of 1 changes no bit; the moments and buffers below never see it (torch's lowered-lr semantics)
    float lr = (float)__dmul_rn(schedule_lr(sched, lr0, warmup, step_size, gamma, t_max, eta_min, t),
                                (double)load_scalar(lrf_p, lrf_dt, 1.0f));
    float mu = (float)momentum, damp = (float)dampening, wd = (float)wd_d;
    float one_damp = __fsub_rn(1.0f, damp);
    bool first = t == 1; // torch.optim.SGD: the first step copies the gradient into the buffer
    for (i64 k = blockIdx.x; k < nchunks; k += gridDim.x) {
        Chunk ch = chunks[k];
        float* p = (float*)tensors[ch.tensor].ptr + ch.start;
        const float* g = (const float*)tensors[n + ch.tensor].ptr + ch.start;
        float* b = has_buf ? (float*)tensors[2 * n + ch.tensor].ptr + ch.start : nullptr;
        bool copy = copy_list >= 0;
        TensorRef c = tensors[copy ? copy_list * n + ch.tensor : ch.tensor];
        for (int e = threadIdx.x; e < ch.length; e += blockDim.x) {
            float pv = p[e];
            float d = __fmul_rn(g[e], coef);
            if (wd != 0.0f) d = __fadd_rn(d, __fmul_rn(wd, pv));
            if (has_buf) {
                float buf = first ? d : __fadd_rn(__fmul_rn(b[e], mu), __fmul_rn(one_damp, d));
                b[e] = buf;
                d = nesterov ? __fadd_rn(d, __fmul_rn(mu, buf)) : buf;
            }
            float pn = __fsub_rn(pv, __fmul_rn(lr, d));
            p[e] = pn;
            if (copy) store_copy(c, ch.start + e, pn);
        }
    }
}

// ------------------------------------------------------------------ gradient statistics
// One read pass for the gradient health monitor (CPU twin: dev.ballast.cpu.fused.CpuGradStats).
// Per chunk: sums of squares of the finite gradient and weight values, the largest finite |g|, the
// zero and non-finite counts; the log2-magnitude histogram (bin = float32 exponent field, see
// dev.ballast.engine.backend.GradStatsLayout) is counted in shared memory and added to the tensor's
// row with integer atomics, so every count is the same for any grid.
// Squares are summed in double, as the CPU twin does: a float square flushes gradients below ~1e-19 to zero, which
// would hide exactly the vanishing layers the monitor is there to find (and overflows above ~1.8e19).
struct StatPart { double gsq, wsq; float gmax; unsigned zeros, bad; };

__device__ __forceinline__ float load_any(u64 ptr, int dt, i64 i) {
    switch (dt) {
        case DT_F16:  return __half2float(((const __half*)ptr)[i]);
        case DT_BF16: return __bfloat162float(((const __nv_bfloat16*)ptr)[i]);
        default:      return ((const float*)ptr)[i];
    }
}

extern "C" __global__ void multi_tensor_stats(const TensorRef* tensors, const Chunk* chunks, i64 nchunks,
                                              i64 ntensors, int has_weights, StatPart* part, u64* hist) {
    __shared__ unsigned s_hist[256];
    __shared__ double s_gsq[32], s_wsq[32];
    __shared__ float s_gmax[32];
    __shared__ unsigned s_zeros[32], s_bad[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    for (i64 c = blockIdx.x; c < nchunks; c += gridDim.x) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) s_hist[b] = 0;
        __syncthreads();
        Chunk ch = chunks[c];
        TensorRef g = tensors[ch.tensor];
        TensorRef w = tensors[has_weights ? ntensors + ch.tensor : ch.tensor];
        double gsq = 0.0, wsq = 0.0;
        float gmax = 0.f;
        unsigned zeros = 0, bad = 0;
        for (int e = threadIdx.x; e < ch.length; e += blockDim.x) {
            if (has_weights) {
                float v = load_any(w.ptr, w.dtype, ch.start + e);
                if (finite(v)) wsq += (double)v * v;
            }
            float x = load_any(g.ptr, g.dtype, ch.start + e);
            atomicAdd(&s_hist[(__float_as_uint(x) >> 23) & 0xffu], 1u);
            if (!finite(x)) { bad++; continue; }
            zeros += x == 0.f;
            gmax = fmaxf(gmax, fabsf(x));
            gsq += (double)x * x;
        }
        for (int o = 16; o > 0; o >>= 1) {
            gsq += __shfl_down_sync(0xffffffffu, gsq, o);
            wsq += __shfl_down_sync(0xffffffffu, wsq, o);
            gmax = fmaxf(gmax, __shfl_down_sync(0xffffffffu, gmax, o));
            zeros += __shfl_down_sync(0xffffffffu, zeros, o);
            bad += __shfl_down_sync(0xffffffffu, bad, o);
        }
        if (lane == 0) { s_gsq[warp] = gsq; s_wsq[warp] = wsq; s_gmax[warp] = gmax; s_zeros[warp] = zeros; s_bad[warp] = bad; }
        __syncthreads();
        if (warp == 0) {
            bool in = lane < nwarps;
            gsq = in ? s_gsq[lane] : 0.0; wsq = in ? s_wsq[lane] : 0.0; gmax = in ? s_gmax[lane] : 0.f;
            zeros = in ? s_zeros[lane] : 0u; bad = in ? s_bad[lane] : 0u;
            for (int o = 16; o > 0; o >>= 1) {
                gsq += __shfl_down_sync(0xffffffffu, gsq, o);
                wsq += __shfl_down_sync(0xffffffffu, wsq, o);
                gmax = fmaxf(gmax, __shfl_down_sync(0xffffffffu, gmax, o));
                zeros += __shfl_down_sync(0xffffffffu, zeros, o);
                bad += __shfl_down_sync(0xffffffffu, bad, o);
            }
            if (lane == 0) { StatPart p; p.gsq = gsq; p.wsq = wsq; p.gmax = gmax; p.zeros = zeros; p.bad = bad; part[c] = p; }
        }
        u64* row = hist + (u64)ch.tensor * 256;
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
            if (s_hist[b] != 0) atomicAdd(row + b, (u64)s_hist[b]);
        __syncthreads(); // shared slots are reused by the next chunk
    }
}

// One block: each tensor's chunk partials combined in F64 in chunk order into its row of 5 statistics
// (columns of GradStatsLayout: grad sumsq, weight sumsq, max |g|, zeros, non-finite).
extern "C" __global__ void multi_tensor_stats_finish(const TensorRef* tensors, i64 ntensors, const StatPart* part,
                                                     double* stats) {
    for (i64 i = threadIdx.x; i < ntensors; i += blockDim.x) {
        TensorRef t = tensors[i];
        double gsq = 0.0, wsq = 0.0, gmax = 0.0, zeros = 0.0, bad = 0.0;
        for (int k = 0; k < t.chunk_count; k++) {
            StatPart p = part[t.first_chunk + k];
            gsq += (double)p.gsq;
            wsq += (double)p.wsq;
            gmax = fmax(gmax, (double)p.gmax);
            zeros += (double)p.zeros;
            bad += (double)p.bad;
        }
        double* r = stats + i * 5;
        r[0] = gsq; r[1] = wsq; r[2] = gmax; r[3] = zeros; r[4] = bad;
    }
}
