// Elementwise unary and binary ops, scalar forms and where, for f32, f64, i32 and i64.
// Op codes are the ordinals of dev.ballast.engine.backend.UnaryOp / BinaryOp (checked by a test).
// Each op has a contiguous kernel (16-byte vector loads/stores when every pointer is aligned) and
// a strided kernel for up to 8 dims (broadcasting arrives as zero strides). Outputs are contiguous.
#include "common.cuh"

// ---------------------------------------------------------------- unary
template<typename T> __device__ __forceinline__ T unary_op(int op, T x);

template<typename T> __device__ __forceinline__ T unary_float(int op, T x) {
    const T zero = (T)0, one = (T)1;
    switch (op) {
        case 0:  return -x;                                           // NEG
        case 1:  return m_abs(x);                                      // ABS
        case 2:  return m_exp(x);                                       // EXP
        case 3:  return m_log(x);                                       // LOG
        case 4:  return m_sqrt(x);                                      // SQRT
        case 5:  return one / m_sqrt(x);                                // RSQRT
        case 6:  return m_tanh(x);                                      // TANH
        case 7:  return one / (one + m_exp(-x));                        // SIGMOID
        case 8:  return x < zero ? zero : x;                          // RELU (NaN passes)
        case 9:  return (T)0.5 * x * (one + m_erf(x * (T)0.70710678118654752440)); // GELU, erf form
        case 10: return m_sin(x);                                       // SIN
        case 11: return m_cos(x);                                       // COS
        case 12: return x > zero ? one : (x < zero ? -one : x);       // SIGN (0 and NaN kept)
        case 13: return x * x;                                        // SQUARE
        case 14: return one / x;                                      // RECIPROCAL
        case 15: return (x - x) == zero ? one : zero;                 // ISFINITE
        case 16: return x != x ? one : zero;                          // ISNAN
        case 17: return m_erf(x);                                      // ERF
        default: return x;
    }
}

template<typename T> __device__ __forceinline__ T unary_int(int op, T x) {
    switch (op) {
        case 0:  return -x;
        case 1:  return x < 0 ? -x : x;
        case 8:  return x < 0 ? (T)0 : x;
        case 12: return (T)((x > 0) - (x < 0));
        case 13: return x * x;
        case 15: return (T)1;
        case 16: return (T)0;
        default: return x; // unreachable: the backend refuses float-only functions on integers (UnaryOp.definedForIntegers)
    }
}

template<> __device__ __forceinline__ float  unary_op<float>(int op, float x)   { return unary_float<float>(op, x); }
template<> __device__ __forceinline__ double unary_op<double>(int op, double x) { return unary_float<double>(op, x); }
template<> __device__ __forceinline__ int    unary_op<int>(int op, int x)       { return unary_int<int>(op, x); }
template<> __device__ __forceinline__ i64    unary_op<i64>(int op, i64 x)       { return unary_int<i64>(op, x); }

// ---------------------------------------------------------------- binary
template<typename T> __device__ __forceinline__ T div_op(T a, T b) { return a / b; }
template<> __device__ __forceinline__ int div_op<int>(int a, int b) { return b == 0 ? 0 : a / b; }  // no trap on the GPU
template<> __device__ __forceinline__ i64 div_op<i64>(i64 a, i64 b) { return b == 0 ? 0 : a / b; }

template<typename T> __device__ __forceinline__ T pow_op(T a, T b) { return (T)pow((double)a, (double)b); }
template<> __device__ __forceinline__ float pow_op<float>(float a, float b) { return powf(a, b); }

template<typename T> __device__ __forceinline__ T binary_op(int op, T a, T b) {
    switch (op) {
        case 0:  return a + b;                                        // ADD
        case 1:  return a - b;                                        // SUB
        case 2:  return a * b;                                        // MUL
        case 3:  return div_op<T>(a, b);                              // DIV
        case 4:  return pow_op<T>(a, b);                              // POW
        case 5:  return (is_nan(a) || a > b) ? a : b;                 // MAX, NaN wins
        case 6:  return (is_nan(a) || a < b) ? a : b;                 // MIN, NaN wins
        case 7:  return (T)(a == b);                                  // EQ
        case 8:  return (T)(a != b);                                  // NE
        case 9:  return (T)(a < b);                                   // LT
        case 10: return (T)(a <= b);                                  // LE
        case 11: return (T)(a > b);                                   // GT
        case 12: return (T)(a >= b);                                  // GE
        default: return a;
    }
}

// ---------------------------------------------------------------- generic loops
// out[e] = f(e-th elements of the inputs); contiguous inputs, vectorized when all are 16-byte aligned.
template<typename T, typename F>
__device__ __forceinline__ void map1_contig(const T* x, T* out, i64 n, F f) {
    const int N = Pack<T>::N;
    i64 start = 0;
    if (aligned16(x) && aligned16(out)) {
        i64 nvec = n / N;
        for (i64 v = gtid(); v < nvec; v += gstride()) {
            Pack<T> p = reinterpret_cast<const Pack<T>*>(x)[v];
            for (int k = 0; k < N; k++) p.v[k] = f(p.v[k]);
            reinterpret_cast<Pack<T>*>(out)[v] = p;
        }
        start = nvec * N;
    }
    for (i64 e = start + gtid(); e < n; e += gstride()) out[e] = f(x[e]);
}

template<typename T, typename F>
__device__ __forceinline__ void map2_contig(const T* a, const T* b, T* out, i64 n, F f) {
    const int N = Pack<T>::N;
    i64 start = 0;
    if (aligned16(a) && aligned16(b) && aligned16(out)) {
        i64 nvec = n / N;
        for (i64 v = gtid(); v < nvec; v += gstride()) {
            Pack<T> pa = reinterpret_cast<const Pack<T>*>(a)[v];
            Pack<T> pb = reinterpret_cast<const Pack<T>*>(b)[v];
            for (int k = 0; k < N; k++) pa.v[k] = f(pa.v[k], pb.v[k]);
            reinterpret_cast<Pack<T>*>(out)[v] = pa;
        }
        start = nvec * N;
    }
    for (i64 e = start + gtid(); e < n; e += gstride()) out[e] = f(a[e], b[e]);
}

#define ELEMENTWISE(T, SUF)                                                                           \
extern "C" __global__ void unary_contig_##SUF(const T* x, T* out, i64 n, int op) {                     \
    map1_contig<T>(x, out, n, [op](T v) { return unary_op<T>(op, v); });                              \
}                                                                                                     \
extern "C" __global__ void unary_strided_##SUF(const T* x, T* out, i64 n, int op, NdArgs nd) {         \
    for (i64 e = gtid(); e < n; e += gstride()) {                                                     \
        i64 ox, o1, o2; nd_offsets(e, nd, ox, o1, o2);                                                \
        out[e] = unary_op<T>(op, x[ox]);                                                              \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void binary_contig_##SUF(const T* a, const T* b, T* out, i64 n, int op) {       \
    map2_contig<T>(a, b, out, n, [op](T u, T v) { return binary_op<T>(op, u, v); });                  \
}                                                                                                     \
extern "C" __global__ void binary_strided_##SUF(const T* a, const T* b, T* out, i64 n, int op,        \
                                                NdArgs nd) {                                          \
    for (i64 e = gtid(); e < n; e += gstride()) {                                                     \
        i64 oa, ob, o2; nd_offsets(e, nd, oa, ob, o2);                                                \
        out[e] = binary_op<T>(op, a[oa], b[ob]);                                                      \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void binary_scalar_contig_##SUF(const T* x, T* out, i64 n, int op, double s,    \
                                                      int scalarFirst) {                              \
    T c = (T)s;                                                                                       \
    if (scalarFirst) map1_contig<T>(x, out, n, [op, c](T v) { return binary_op<T>(op, c, v); });     \
    else             map1_contig<T>(x, out, n, [op, c](T v) { return binary_op<T>(op, v, c); });     \
}                                                                                                     \
extern "C" __global__ void binary_scalar_strided_##SUF(const T* x, T* out, i64 n, int op, double s,   \
                                                       int scalarFirst, NdArgs nd) {                  \
    T c = (T)s;                                                                                       \
    for (i64 e = gtid(); e < n; e += gstride()) {                                                     \
        i64 ox, o1, o2; nd_offsets(e, nd, ox, o1, o2);                                                \
        out[e] = scalarFirst ? binary_op<T>(op, c, x[ox]) : binary_op<T>(op, x[ox], c);               \
    }                                                                                                 \
}

ELEMENTWISE(float, f32)
ELEMENTWISE(double, f64)
ELEMENTWISE(int, i32)
ELEMENTWISE(i64, i64)

// where: out = cond != 0 ? a : b; cond (s0) may have another dtype than a (s1) and b (s2).
#define WHERE(C, CS, T, TS)                                                                           \
extern "C" __global__ void where_##CS##_##TS(const C* cond, const T* a, const T* b, T* out, i64 n,    \
                                              NdArgs nd) {                                            \
    for (i64 e = gtid(); e < n; e += gstride()) {                                                     \
        i64 oc, oa, ob; nd_offsets(e, nd, oc, oa, ob);                                                \
        out[e] = cond[oc] != (C)0 ? a[oa] : b[ob];                                                    \
    }                                                                                                 \
}
#define WHERE_ALL(C, CS) WHERE(C, CS, float, f32) WHERE(C, CS, double, f64) WHERE(C, CS, int, i32) WHERE(C, CS, i64, i64)
WHERE_ALL(float, f32)
WHERE_ALL(double, f64)
WHERE_ALL(int, i32)
WHERE_ALL(i64, i64)
