// Shared helpers for Ballast's kernels. Included by every .cu file; NVRTC receives it as an
// in-memory header. No host headers: everything here must compile under both nvcc and NVRTC.
#pragma once

typedef long long i64;
typedef unsigned long long u64;

#define MAX_DIMS 8

// Layout of up to three strided operands over one logical shape (row-major order of `shape`).
// The host collapses dimensions first, so a contiguous operand arrives as rank 1, stride 1.
// Mirrors dev.ballast.cuda.NdArgs: 8 + 4 * 64 bytes, all 64-bit fields, no padding.
struct NdArgs {
    i64 rank;
    i64 shape[MAX_DIMS];
    i64 s0[MAX_DIMS];
    i64 s1[MAX_DIMS];
    i64 s2[MAX_DIMS];
};

// Element offsets of linear index e in each of the (up to) three operands.
__device__ __forceinline__ void nd_offsets(i64 e, const NdArgs& nd, i64& o0, i64& o1, i64& o2) {
    o0 = 0; o1 = 0; o2 = 0;
    for (int d = (int)nd.rank - 1; d >= 0; d--) {
        i64 size = nd.shape[d];
        i64 c = e % size;
        e /= size;
        o0 += c * nd.s0[d];
        o1 += c * nd.s1[d];
        o2 += c * nd.s2[d];
    }
}

// Grid-stride loop bounds.
__device__ __forceinline__ i64 gtid() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ i64 gstride() { return (i64)gridDim.x * blockDim.x; }

// 16 bytes of T, loaded and stored with one vector instruction (llm.c's x128).
template<typename T>
struct alignas(16) Pack {
    static constexpr int N = 16 / sizeof(T);
    T v[N];
};

__device__ __forceinline__ bool aligned16(const void* p) { return ((u64)p & 15) == 0; }

__device__ __forceinline__ float  pos_inf(float)  { return __int_as_float(0x7f800000); }
__device__ __forceinline__ double pos_inf(double) { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ int    pos_inf(int)    { return 2147483647; }
__device__ __forceinline__ i64    pos_inf(i64)    { return 9223372036854775807LL; }
__device__ __forceinline__ float  neg_inf(float)  { return __int_as_float(0xff800000); }
__device__ __forceinline__ double neg_inf(double) { return __longlong_as_double((i64)0xfff0000000000000ULL); }
__device__ __forceinline__ int    neg_inf(int)    { return -2147483647 - 1; }
__device__ __forceinline__ i64    neg_inf(i64)    { return -9223372036854775807LL - 1; }

template<typename T> __device__ __forceinline__ bool is_nan(T x) { return x != x; }

// Math by explicit precision (expf for float, exp for double) rather than relying on C++ overloads.
#define MATH1(NAME, F, D) \
    __device__ __forceinline__ float  NAME(float x)  { return F(x); } \
    __device__ __forceinline__ double NAME(double x) { return D(x); }
MATH1(m_abs, fabsf, fabs)
MATH1(m_exp, expf, exp)
MATH1(m_log, logf, log)
MATH1(m_sqrt, sqrtf, sqrt)
MATH1(m_tanh, tanhf, tanh)
MATH1(m_erf, erff, erf)
MATH1(m_sin, sinf, sin)
MATH1(m_cos, cosf, cos)
