// Random fills from Ladon's counter-based Philox stream (dev.ladon.tensor.Philox is the specification):
// element i of a fill that starts at generator offset o uses Philox-4x32-10 block (seed, o + i), so each
// thread computes its elements independently and the GPU draws exactly the CPU backend's numbers.
//
// The conversions to uniform/normal values are done in double with explicitly rounded operations
// (__dadd_rn, __dmul_rn): nvcc would otherwise contract a + (b - a) * u into a fused multiply-add,
// whose single rounding differs from Java's two. Uniform fills then match the CPU bit for bit. Normal
// fills also call log and cos, which CUDA and the JVM both compute to within an ulp but not always to
// the same ulp: float32 normals almost always match exactly (the double result is rounded to float),
// float64 normals agree to about 1e-15 relative.
#include "ladon.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ void philox_block(u64 seed, u64 counter, uint32_t (&w)[4]) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; round++) {
        uint32_t hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
        uint32_t hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    w[0] = c0; w[1] = c1; w[2] = c2; w[3] = c3;
}

#define TWO_POW_M24 5.9604644775390625e-08
#define TWO_POW_M53 1.1102230246251565e-16
#define TWO_PI 6.283185307179586

__device__ __forceinline__ double bits53(uint32_t hi, uint32_t lo) {
    return (double)(((u64)hi << 21) | (u64)(lo >> 11));
}

// Philox.uniform24 / uniform53
__device__ __forceinline__ double uniform_of(const uint32_t (&w)[4], bool wide) {
    return wide ? __dmul_rn(bits53(w[0], w[1]), TWO_POW_M53) : __dmul_rn((double)(w[0] >> 8), TWO_POW_M24);
}

// Philox.normal24 / normal53: Box-Muller with u1 in (0, 1] so the log never sees 0.
__device__ __forceinline__ double normal_of(const uint32_t (&w)[4], bool wide) {
    double u1, u2;
    if (wide) {
        u1 = __dmul_rn(__dadd_rn(bits53(w[0], w[1]), 1.0), TWO_POW_M53);
        u2 = __dmul_rn(bits53(w[2], w[3]), TWO_POW_M53);
    } else {
        u1 = __dmul_rn((double)((w[0] >> 8) + 1), TWO_POW_M24);
        u2 = __dmul_rn((double)(w[2] >> 8), TWO_POW_M24);
    }
    return __dmul_rn(sqrt(__dmul_rn(-2.0, log(u1))), cos(__dmul_rn(TWO_PI, u2)));
}

// dist: 0 = uniform on [a, b), 1 = normal with mean a and standard deviation b (RandomDistribution ordinals).
template <typename T>
__device__ void random_kernel(T* dst, int n, u64 seed, u64 offset, int dist, double a, double b, bool wide) {
    LADON_GRID_LOOP(i, n) {
        uint32_t w[4];
        philox_block(seed, offset + (u64)i, w);
        double v = dist == 0 ? __dadd_rn(a, __dmul_rn(__dsub_rn(b, a), uniform_of(w, wide)))
                             : __dadd_rn(a, __dmul_rn(b, normal_of(w, wide)));
        dst[i] = (T)v;
    }
}

extern "C" __global__ void random_f32(float* dst, int n, u64 seed, u64 offset, int dist, double a, double b) {
    random_kernel<float>(dst, n, seed, offset, dist, a, b, false);
}

extern "C" __global__ void random_f64(double* dst, int n, u64 seed, u64 offset, int dist, double a, double b) {
    random_kernel<double>(dst, n, seed, offset, dist, a, b, true);
}
