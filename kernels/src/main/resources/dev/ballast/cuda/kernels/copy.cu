// Copies with casts between f32, f16, bf16, f64, i32 and i64, and fills by bit pattern.
// Conversions round to nearest even like the CPU backend: to f16/bf16 through float with
// __float2half_rn / __float2bfloat16_rn; float to integer truncates (NaN gives 0, out of range saturates).
#include "common.cuh"
#include <cuda_fp16.h>
#include <cuda_bf16.h>

typedef __half f16;
typedef __nv_bfloat16 bf16;

// Widen a source element to the type it converts from: halves become float, others stay.
__device__ __forceinline__ float  widen(f16 x)    { return __half2float(x); }
__device__ __forceinline__ float  widen(bf16 x)   { return __bfloat162float(x); }
__device__ __forceinline__ float  widen(float x)  { return x; }
__device__ __forceinline__ double widen(double x) { return x; }
__device__ __forceinline__ int    widen(int x)    { return x; }
__device__ __forceinline__ i64    widen(i64 x)    { return x; }

template<typename D> struct Narrow {
    template<typename W> __device__ static __forceinline__ D from(W w) { return (D)w; }
};
template<> struct Narrow<f16> {
    template<typename W> __device__ static __forceinline__ f16 from(W w) { return __float2half_rn((float)w); }
};
template<> struct Narrow<bf16> {
    template<typename W> __device__ static __forceinline__ bf16 from(W w) { return __float2bfloat16_rn((float)w); }
};

#define CAST(S, SS, D, DS)                                                                            \
extern "C" __global__ void cast_##SS##_##DS(const S* x, D* out, i64 n, NdArgs nd) {                   \
    for (i64 e = gtid(); e < n; e += gstride()) {                                                     \
        i64 ox, o1, o2; nd_offsets(e, nd, ox, o1, o2);                                                \
        out[e] = Narrow<D>::from(widen(x[ox]));                                                       \
    }                                                                                                 \
}
#define CAST_TO_ALL(S, SS) CAST(S, SS, float, f32) CAST(S, SS, f16, f16) CAST(S, SS, bf16, bf16) \
                           CAST(S, SS, double, f64) CAST(S, SS, int, i32) CAST(S, SS, i64, i64)
CAST_TO_ALL(float, f32)
CAST_TO_ALL(f16, f16)
CAST_TO_ALL(bf16, bf16)
CAST_TO_ALL(double, f64)
CAST_TO_ALL(int, i32)
CAST_TO_ALL(i64, i64)

// Fill n elements of 2, 4 or 8 bytes with one bit pattern (the host converts the value to the dtype).
#define FILL(T, BITS)                                                                                 \
extern "C" __global__ void fill_b##BITS(T* out, i64 n, T bits) {                                      \
    for (i64 e = gtid(); e < n; e += gstride()) out[e] = bits;                                        \
}
FILL(unsigned short, 16)
FILL(unsigned int, 32)
FILL(u64, 64)
