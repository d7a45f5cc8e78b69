// Reductions over the middle axis of a contiguous [outer, n, inner] view, without atomics, so the
// result is the same on every run. inner == 1: one block per row, warp shuffles then shared memory.
// inner > 1: one thread per (outer, inner) column, reading coalesced across threads.
// Op codes: 0 SUM, 1 MAX, 2 MIN (NaN propagates); arg kernels: 3 ARGMAX, 4 ARGMIN (first index on ties).
#include "common.cuh"

template<typename T> __device__ __forceinline__ T identity(int op) {
    return op == 0 ? (T)0 : (op == 1 ? neg_inf(T()) : pos_inf(T()));
}

template<typename T> __device__ __forceinline__ T combine(int op, T a, T b) {
    if (op == 0) return a + b;
    if (op == 1) return (is_nan(a) || a > b) ? a : b;
    return (is_nan(a) || a < b) ? a : b;
}

// Does (vb, ib) beat (va, ia)? NaN beats everything; ties go to the lower index.
template<typename T> __device__ __forceinline__ bool arg_better(int op, T va, i64 ia, T vb, i64 ib) {
    bool na = is_nan(va), nb = is_nan(vb);
    if (na || nb) return nb && (!na || ib < ia);
    if (vb == va) return ib < ia;
    return op == 3 ? vb > va : vb < va;
}

// Reduce across a block of up to 1024 threads; lane order is fixed, so the result is deterministic.
template<typename T> __device__ T block_reduce(int op, T v) {
    __shared__ T warp_vals[32];
    for (int o = 16; o > 0; o >>= 1) v = combine(op, v, __shfl_down_sync(0xffffffffu, v, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    if (lane == 0) warp_vals[warp] = v;
    __syncthreads();
    v = threadIdx.x < nwarps ? warp_vals[threadIdx.x] : identity<T>(op);
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v = combine(op, v, __shfl_down_sync(0xffffffffu, v, o));
    return v; // valid in thread 0
}

template<typename T> __device__ void block_arg_reduce(int op, T& v, i64& i) {
    __shared__ T warp_vals[32];
    __shared__ i64 warp_idx[32];
    for (int o = 16; o > 0; o >>= 1) {
        T v2 = __shfl_down_sync(0xffffffffu, v, o);
        i64 i2 = __shfl_down_sync(0xffffffffu, i, o);
        if (arg_better(op, v, i, v2, i2)) { v = v2; i = i2; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    if (lane == 0) { warp_vals[warp] = v; warp_idx[warp] = i; }
    __syncthreads();
    if (threadIdx.x < nwarps) { v = warp_vals[threadIdx.x]; i = warp_idx[threadIdx.x]; }
    else { v = op == 3 ? neg_inf(T()) : pos_inf(T()); i = 9223372036854775807LL; }
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) {
            T v2 = __shfl_down_sync(0xffffffffu, v, o);
            i64 i2 = __shfl_down_sync(0xffffffffu, i, o);
            if (arg_better(op, v, i, v2, i2)) { v = v2; i = i2; }
        }
}

#define REDUCE(T, SUF)                                                                                \
extern "C" __global__ void reduce_rows_##SUF(const T* x, T* out, i64 outer, i64 n, int op) {           \
    for (i64 row = blockIdx.x; row < outer; row += gridDim.x) {                                       \
        const T* r = x + row * n;                                                                     \
        T acc = identity<T>(op);                                                                      \
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) acc = combine(op, acc, r[j]);               \
        acc = block_reduce<T>(op, acc);                                                               \
        if (threadIdx.x == 0) out[row] = acc;                                                         \
        __syncthreads();                                                                              \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void reduce_cols_##SUF(const T* x, T* out, i64 outer, i64 n, i64 inner, int op) { \
    for (i64 t = gtid(); t < outer * inner; t += gstride()) {                                         \
        i64 o = t / inner, i = t % inner;                                                             \
        const T* p = x + o * n * inner + i;                                                           \
        T acc = identity<T>(op);                                                                      \
        for (i64 j = 0; j < n; j++) acc = combine(op, acc, p[j * inner]);                             \
        out[t] = acc;                                                                                 \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void argreduce_rows_##SUF(const T* x, i64* out, i64 outer, i64 n, int op) {      \
    for (i64 row = blockIdx.x; row < outer; row += gridDim.x) {                                       \
        const T* r = x + row * n;                                                                     \
        T best = op == 3 ? neg_inf(T()) : pos_inf(T());                                               \
        i64 bi = 9223372036854775807LL;                                                               \
        for (i64 j = threadIdx.x; j < n; j += blockDim.x)                                             \
            if (arg_better(op, best, bi, r[j], j)) { best = r[j]; bi = j; }                           \
        block_arg_reduce<T>(op, best, bi);                                                            \
        if (threadIdx.x == 0) out[row] = bi;                                                          \
        __syncthreads();                                                                              \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void argreduce_cols_##SUF(const T* x, i64* out, i64 outer, i64 n, i64 inner,     \
                                                int op) {                                             \
    for (i64 t = gtid(); t < outer * inner; t += gstride()) {                                         \
        i64 o = t / inner, i = t % inner;                                                             \
        const T* p = x + o * n * inner + i;                                                           \
        T best = p[0];                                                                                \
        i64 bi = 0;                                                                                   \
        for (i64 j = 1; j < n; j++)                                                                   \
            if (arg_better(op, best, bi, p[j * inner], j)) { best = p[j * inner]; bi = j; }           \
        out[t] = bi;                                                                                  \
    }                                                                                                 \
}

REDUCE(float, f32)
REDUCE(double, f64)
REDUCE(int, i32)
REDUCE(i64, i64)
