// indexSelect / indexAdd / gather / scatterAdd over contiguous [outer, n, inner] views with I64
// indices. The accumulating forms give each thread one (outer, inner) column and walk the indices in
// order, so repeated indices add up in index order with no atomics: the same result on every run.
#include "common.cuh"

#define INDEX(T, SUF)                                                                                 \
/* out[o, j, i] = x[o, index[j], i] */                                                                \
extern "C" __global__ void index_select_##SUF(const T* x, const i64* index, T* out, i64 outer, i64 n, \
                                              i64 inner, i64 m) {                                     \
    i64 total = outer * m * inner;                                                                    \
    for (i64 e = gtid(); e < total; e += gstride()) {                                                 \
        i64 i = e % inner, j = (e / inner) % m, o = e / (inner * m);                                  \
        out[e] = x[(o * n + index[j]) * inner + i];                                                   \
    }                                                                                                 \
}                                                                                                     \
/* out[o, index[j], i] += src[o, j, i] */                                                             \
extern "C" __global__ void index_add_##SUF(const T* src, const i64* index, T* out, i64 outer, i64 m,   \
                                           i64 inner, i64 n) {                                        \
    for (i64 t = gtid(); t < outer * inner; t += gstride()) {                                         \
        i64 o = t / inner, i = t % inner;                                                             \
        for (i64 j = 0; j < m; j++) out[(o * n + index[j]) * inner + i] += src[(o * m + j) * inner + i]; \
    }                                                                                                 \
}                                                                                                     \
/* out[o, j, i] = x[o, index[o, j, i], i] */                                                          \
extern "C" __global__ void gather_##SUF(const T* x, const i64* index, T* out, i64 outer, i64 n,       \
                                        i64 inner, i64 m) {                                           \
    i64 total = outer * m * inner;                                                                    \
    for (i64 e = gtid(); e < total; e += gstride()) {                                                 \
        i64 i = e % inner, o = e / (inner * m);                                                       \
        out[e] = x[(o * n + index[e]) * inner + i];                                                   \
    }                                                                                                 \
}                                                                                                     \
/* out[o, index[o, j, i], i] += src[o, j, i] */                                                       \
extern "C" __global__ void scatter_add_##SUF(const T* src, const i64* index, T* out, i64 outer, i64 m, \
                                             i64 inner, i64 n) {                                      \
    for (i64 t = gtid(); t < outer * inner; t += gstride()) {                                         \
        i64 o = t / inner, i = t % inner;                                                             \
        for (i64 j = 0; j < m; j++) {                                                                 \
            i64 e = (o * m + j) * inner + i;                                                          \
            out[(o * n + index[e]) * inner + i] += src[e];                                            \
        }                                                                                             \
    }                                                                                                 \
}

INDEX(float, f32)
INDEX(double, f64)
INDEX(int, i32)
INDEX(i64, i64)
