// Definitions shared by every Ladon kernel file: the strided layout that elementwise-style kernels walk,
// conversions with Java's rounding rules (so a cast on the GPU gives the CPU backend's value), the
// device-side index-error record, and warp/block reductions.
//
// Part of the SHA-256 that each generated .ptx records (see build-ptx.sh): editing this header marks
// every PTX file stale.
#pragma once
#include <stdint.h>

#define LADON_MAX_DIMS 8
#define LADON_MAX_OPERANDS 4

typedef long long i64;
typedef unsigned long long u64;
typedef uint8_t u8;

// ---- strided layout ---------------------------------------------------------------------------------

// The shape walked by an elementwise kernel and the strides (in elements) of up to four operands over it.
// Dims are already coalesced on the host (StridedLayout.java), which also fixes this struct's byte layout:
// 2 + 8 + 4 * 8 ints = 168 bytes, passed by value as a kernel parameter.
struct Layout {
    int rank;
    int numel;
    int shape[LADON_MAX_DIMS];
    int stride[LADON_MAX_OPERANDS][LADON_MAX_DIMS];
};

// Element offsets of the first NOPS operands at row-major linear index i. The loop runs over the
// compile-time maximum so that every index into the parameter struct is a constant: a dynamic index would
// force the struct into local memory.
template <int NOPS>
__device__ __forceinline__ void layout_offsets(const Layout& L, int i, int (&off)[NOPS]) {
#pragma unroll
    for (int k = 0; k < NOPS; k++) {
        off[k] = 0;
    }
#pragma unroll
    for (int d = LADON_MAX_DIMS - 1; d >= 0; d--) {
        if (d < L.rank) {
            int s = L.shape[d];
            int c = i % s;
            i /= s;
#pragma unroll
            for (int k = 0; k < NOPS; k++) {
                off[k] += c * L.stride[k][d];
            }
        }
    }
}

// Grid-stride loop over [0, n): 64-bit counter so that i + stride never overflows near 2^31.
#define LADON_GRID_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

// ---- conversions with Java's rules -------------------------------------------------------------------

// The CPU backend converts a float through double: floats round to nearest, integers truncate toward zero
// and saturate (NaN becomes 0), bool is "!= 0". These helpers reproduce that exactly. (Integers convert as
// integers: see convert in elementwise.cu.)
template <typename T> __device__ __forceinline__ double to_double(T v) { return (double)v; }

template <typename T> __device__ __forceinline__ T from_double(double v);
template <> __device__ __forceinline__ float from_double<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ double from_double<double>(double v) { return v; }
template <> __device__ __forceinline__ int from_double<int>(double v) {
    if (v != v) return 0;
    if (v >= 2147483647.0) return 2147483647;
    if (v <= -2147483648.0) return (int)0x80000000;
    return (int)v;
}
template <> __device__ __forceinline__ i64 from_double<i64>(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return 0x7fffffffffffffffLL;
    if (v <= -9223372036854775808.0) return (i64)0x8000000000000000ULL;
    return (i64)v;
}
template <> __device__ __forceinline__ u8 from_double<u8>(double v) { return v != 0.0 ? 1 : 0; }

// ---- index errors ------------------------------------------------------------------------------------

// Index values are data, so kernels check them. A bad index is skipped (never dereferenced) and the first
// one is recorded here; the host reads the record at its next synchronisation and throws there
// (IndexErrors.java decodes it). 32 bytes, zeroed by the host after each report.
struct IndexError {
    int flag;
    int op;      // IndexErrors.Op ordinal
    int dim;
    int unused;
    i64 value;   // the offending index
    i64 size;    // the valid range is [0, size)
};

__device__ __forceinline__ void report_index_error(IndexError* e, int op, i64 value, i64 size, int dim) {
    if (atomicCAS(&e->flag, 0, 1) == 0) {
        e->op = op;
        e->dim = dim;
        e->value = value;
        e->size = size;
    }
}

// ---- reductions within a warp and a block --------------------------------------------------------

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double warp_max(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `scratch` holds 32 doubles of shared memory; the caller may reuse it after this returns.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0;
    return warp_sum(v);
}

// Max over the block; NaN wins (as on the CPU) because fmax would drop it, so NaN is tracked apart.
__device__ __forceinline__ double block_max(double v, double* scratch) {
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    double nan = (v != v) ? 1.0 : 0.0;
    nan = warp_sum(nan);
    v = warp_max(v);
    if (nan > 0) v = __longlong_as_double(0x7ff8000000000000LL);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -__longlong_as_double(0x7ff0000000000000LL);
    nan = (v != v) ? 1.0 : 0.0;
    nan = warp_sum(nan);
    v = warp_max(v);
    return nan > 0 ? __longlong_as_double(0x7ff8000000000000LL) : v;
}

// ---- vector access -----------------------------------------------------------------------------------

// Four consecutive elements, 16-byte aligned, in one or two vector instructions (LDS.128 / LDG.128).
__device__ __forceinline__ void load4(const float* p, float (&v)[4]) {
    float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
}
__device__ __forceinline__ void load4(const double* p, double (&v)[4]) {
    double2 q0 = reinterpret_cast<const double2*>(p)[0], q1 = reinterpret_cast<const double2*>(p)[1];
    v[0] = q0.x; v[1] = q0.y; v[2] = q1.x; v[3] = q1.y;
}
__device__ __forceinline__ void store4(float* p, const float (&v)[4]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(double* p, const double (&v)[4]) {
    reinterpret_cast<double2*>(p)[0] = make_double2(v[0], v[1]);
    reinterpret_cast<double2*>(p)[1] = make_double2(v[2], v[3]);
}
