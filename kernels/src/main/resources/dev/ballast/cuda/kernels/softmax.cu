// Softmax and log-softmax of each length-n row, one block per row: max, sum of exp(x - max), write.
// Deterministic: fixed per-thread striding and a fixed reduction tree. A row of all -inf gives NaN, as in PyTorch.
#include "common.cuh"

#define ex m_exp
#define ln m_log

// Block-wide max (NaN propagates) or sum; the result is returned to every thread.
template<typename T> __device__ T block_all(T v, bool isMax) {
    __shared__ T vals[32];
    __shared__ T result;
    for (int o = 16; o > 0; o >>= 1) {
        T w = __shfl_down_sync(0xffffffffu, v, o);
        v = isMax ? ((is_nan(v) || v > w) ? v : w) : v + w;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    if (lane == 0) vals[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? vals[lane] : (isMax ? neg_inf(T()) : (T)0);
        for (int o = 16; o > 0; o >>= 1) {
            T w = __shfl_down_sync(0xffffffffu, v, o);
            v = isMax ? ((is_nan(v) || v > w) ? v : w) : v + w;
        }
        if (lane == 0) result = v;
    }
    __syncthreads();
    T r = result;
    __syncthreads(); // vals/result are reused by the next call
    return r;
}

#define SOFTMAX(T, SUF)                                                                               \
extern "C" __global__ void softmax_##SUF(const T* x, T* out, i64 rows, i64 n, int logForm) {           \
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {                                        \
        const T* r = x + row * n;                                                                     \
        T* o = out + row * n;                                                                         \
        T m = neg_inf(T());                                                                           \
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) m = (is_nan(m) || m > r[j]) ? m : r[j];     \
        m = block_all<T>(m, true);                                                                    \
        T s = (T)0;                                                                                   \
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) s += ex(r[j] - m);                          \
        s = block_all<T>(s, false);                                                                   \
        if (logForm) {                                                                                \
            T ls = ln(s);                                                                             \
            for (i64 j = threadIdx.x; j < n; j += blockDim.x) o[j] = r[j] - m - ls;                   \
        } else {                                                                                      \
            T inv = (T)1 / s;                                                                         \
            for (i64 j = threadIdx.x; j < n; j += blockDim.x) o[j] = ex(r[j] - m) * inv;              \
        }                                                                                             \
    }                                                                                                 \
}

SOFTMAX(float, f32)
SOFTMAX(double, f64)
