// Philox4x32-10 random streams, identical to the CPU backend's:
// key = (lo32(seed), hi32(seed)); element g = offset + e.
// UNIFORM: counter (lo32(g/4), hi32(g/4), 0, 0), lane g%4, value (x >> 8) * 2^-24 in [0, 1).
// NORMAL:  counter block g/2, lanes 2*(g%2) and 2*(g%2)+1 give x1, x2;
//          u1 = ((x1 >> 8) + 1) * 2^-24, u2 = (x2 >> 8) * 2^-24,
//          value = sqrt(-2 ln u1) * cos(2 pi u2) computed in double, rounded to float.
// One thread per counter block. philox4x32_10 is __host__ __device__ so a host test can check it.
#include "common.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__host__ __device__ inline void philox4x32_10(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        u64 p0 = (u64)PHILOX_M0 * c[0];
        u64 p1 = (u64)PHILOX_M1 * c[2];
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        c[1] = (unsigned int)p1;
        c[3] = (unsigned int)p0;
        c[0] = n0;
        c[2] = n2;
    }
}

__host__ __device__ inline void philox_block(u64 block, u64 seed, unsigned int out[4]) {
    out[0] = (unsigned int)block; out[1] = (unsigned int)(block >> 32); out[2] = 0; out[3] = 0;
    philox4x32_10(out, (unsigned int)seed, (unsigned int)(seed >> 32));
}

__host__ __device__ inline float philox_uniform(unsigned int x) {
    return (float)(x >> 8) * 5.9604644775390625e-8f; // 2^-24
}

__host__ __device__ inline float philox_normal(unsigned int x1, unsigned int x2) {
    double u1 = ((double)(x1 >> 8) + 1.0) * 5.9604644775390625e-8;
    double u2 = (double)(x2 >> 8) * 5.9604644775390625e-8;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#define RANDOM(T, SUF)                                                                                \
extern "C" __global__ void uniform_##SUF(T* out, i64 n, u64 seed, u64 offset) {                       \
    u64 first = offset / 4, last = (offset + (u64)n - 1) / 4;                                         \
    for (u64 b = first + (u64)gtid(); b <= last; b += (u64)gstride()) {                               \
        unsigned int x[4]; philox_block(b, seed, x);                                                  \
        for (int lane = 0; lane < 4; lane++) {                                                        \
            u64 g = b * 4 + lane;                                                                     \
            if (g >= offset && g < offset + (u64)n) out[g - offset] = (T)philox_uniform(x[lane]);     \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
extern "C" __global__ void normal_##SUF(T* out, i64 n, u64 seed, u64 offset) {                        \
    u64 first = offset / 2, last = (offset + (u64)n - 1) / 2;                                         \
    for (u64 b = first + (u64)gtid(); b <= last; b += (u64)gstride()) {                               \
        unsigned int x[4]; philox_block(b, seed, x);                                                  \
        for (int half = 0; half < 2; half++) {                                                        \
            u64 g = b * 2 + half;                                                                     \
            if (g >= offset && g < offset + (u64)n)                                                   \
                out[g - offset] = (T)philox_normal(x[2 * half], x[2 * half + 1]);                     \
        }                                                                                             \
    }                                                                                                 \
}

RANDOM(float, f32)
RANDOM(double, f64)
