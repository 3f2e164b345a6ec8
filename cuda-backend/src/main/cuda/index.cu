// Gather and scatter-add along one dim; index-select and index-add are the same kernels with a 1-D index
// viewed (stride 0) over the other dims (IndexKernels.java builds those views).
//
// Both walk a Layout of three operands: the output (or destination), the index, and the data tensor
// viewed with stride 0 along `dim`. Walking the three together gives each element's offset except along
// dim, which the index value supplies: offset + index * stride_dim.
//
// Index values are checked against [0, size): a bad one is skipped (gather writes 0) and reported through
// the IndexError record. Scatter-add accumulates with atomicAdd, so the summation order of colliding
// indices, and thus the last bits of a float sum, may vary from run to run.
#include "ladon.cuh"

template <typename T, typename I>
__device__ void gather_kernel(T* out, const I* index, const T* x, Layout L, int size, int stride, int dim,
                              IndexError* err, int op) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[3];
        layout_offsets<3>(L, (int)i, off);
        i64 v = (i64)index[off[1]];
        if (v < 0 || v >= size) {
            report_index_error(err, op, v, size, dim);
            out[off[0]] = T(0);
            continue;
        }
        out[off[0]] = x[off[2] + v * stride];
    }
}

// Atomic accumulation per element type. bool has no byte-wide atomic add; since bool values are 0 or 1,
// "x + s != 0" is "x or s", an atomic OR of the byte's bit in its aligned 32-bit word.
__device__ __forceinline__ void atomic_accumulate(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_accumulate(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_accumulate(int* p, int v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_accumulate(i64* p, i64 v) { atomicAdd((u64*)p, (u64)v); }
__device__ __forceinline__ void atomic_accumulate(u8* p, u8 v) {
    if (v == 0) return;
    size_t a = (size_t)p;
    atomicOr((unsigned int*)(a & ~(size_t)3), 1u << (8 * (a & 3)));
}

template <typename T, typename I>
__device__ void scatter_add_kernel(T* dst, const I* index, const T* src, Layout L, int size, int stride, int dim,
                                   IndexError* err, int op) {
    LADON_GRID_LOOP(i, L.numel) {
        int off[3];
        layout_offsets<3>(L, (int)i, off);
        i64 v = (i64)index[off[1]];
        if (v < 0 || v >= size) {
            report_index_error(err, op, v, size, dim);
            continue;
        }
        atomic_accumulate(dst + off[0] + v * stride, src[off[2]]);
    }
}

#define LADON_INDEX(S, T, IS, I)                                                                            \
    extern "C" __global__ void gather_##S##_##IS(T* out, const I* index, const T* x, Layout L, int size,   \
                                                 int stride, int dim, IndexError* err, int op) {           \
        gather_kernel<T, I>(out, index, x, L, size, stride, dim, err, op);                                 \
    }                                                                                                      \
    extern "C" __global__ void scatter_add_##S##_##IS(T* dst, const I* index, const T* src, Layout L,      \
                                                      int size, int stride, int dim, IndexError* err,      \
                                                      int op) {                                            \
        scatter_add_kernel<T, I>(dst, index, src, L, size, stride, dim, err, op);                          \
    }
#define LADON_INDEX_TYPES(S, T) LADON_INDEX(S, T, i32, int) LADON_INDEX(S, T, i64, i64)
LADON_INDEX_TYPES(f32, float)
LADON_INDEX_TYPES(f64, double)
LADON_INDEX_TYPES(i32, int)
LADON_INDEX_TYPES(i64, i64)
LADON_INDEX_TYPES(u8, u8)
