// Sort and top-k along the last dim of contiguous rows [rows, n], returning values and int64 positions.
//
// Order: values compare as Java's Double.compare does (NaN above +inf, -0.0 below 0.0; integers
// exactly), and equal values keep their original order. The kernels sort (value, position) pairs
// with the position as tie-breaker, so the order is total and any sorting network yields the stable
// result; that lets us use bitonic sort, whose fixed compare-exchange pattern suits the GPU.
//
// Rows of up to 2048 elements are sorted by one block in shared memory (padded to a power of two with
// entries that sort last). Longer rows take the global-memory path: the same network, one launch per
// merge step over a padded scratch copy (O(n log^2 n) work; a fallback, not tuned).
// Top-k is a sort that stores only the first k of each row.
#include "ladon.cuh"

#define SORT_SHARED_MAX 2048

// Java's Double.compare order on doubles; plain order on integers.
__device__ __forceinline__ int order_compare(double a, double b) {
    if (a < b) return -1;
    if (a > b) return 1;
    bool an = a != a, bn = b != b;
    if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
    bool as = signbit(a), bs = signbit(b);  // equal values: only -0.0 vs 0.0 differ
    return as == bs ? 0 : (as ? -1 : 1);
}
__device__ __forceinline__ int order_compare(i64 a, i64 b) { return a < b ? -1 : (a > b ? 1 : 0); }

template <typename T> struct SortKey { typedef double type; };
template <> struct SortKey<int> { typedef i64 type; };
template <> struct SortKey<i64> { typedef i64 type; };
template <> struct SortKey<u8> { typedef i64 type; };

// Whether (a, ia) comes strictly before (b, ib); positions >= n are padding and come last.
template <typename K>
__device__ __forceinline__ bool sorts_before(K a, int ia, K b, int ib, int n, int descending) {
    if (ia >= n) return false;
    if (ib >= n) return true;
    int c = order_compare(a, b);
    if (c != 0) return descending ? c > 0 : c < 0;
    return ia < ib;
}

// One block per row (rows strided over the grid); `padded` is a power of two >= n, at most 2048.
template <typename T>
__device__ void sort_rows_shared(T* values, i64* indices, const T* x, int rows, int n, int padded, int keep,
                                 int descending) {
    typedef typename SortKey<T>::type K;
    extern __shared__ __align__(16) unsigned char sort_smem[];
    K* key = (K*)sort_smem;
    int* pos = (int*)(key + padded);
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + (i64)row * n;
        __syncthreads();
        for (int i = threadIdx.x; i < padded; i += blockDim.x) {
            key[i] = i < n ? (K)xr[i] : K(0);
            pos[i] = i;
        }
        __syncthreads();
        for (int size = 2; size <= padded; size <<= 1) {
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                for (int i = threadIdx.x; i < padded; i += blockDim.x) {
                    int j = i ^ stride;
                    if (j > i) {
                        bool ascending = (i & size) == 0;  // this half-sequence runs in sort order
                        bool swap = ascending ? sorts_before(key[j], pos[j], key[i], pos[i], n, descending)
                                              : sorts_before(key[i], pos[i], key[j], pos[j], n, descending);
                        if (swap) {
                            K tk = key[i]; key[i] = key[j]; key[j] = tk;
                            int tp = pos[i]; pos[i] = pos[j]; pos[j] = tp;
                        }
                    }
                }
                __syncthreads();
            }
        }
        for (int i = threadIdx.x; i < keep; i += blockDim.x) {
            values[(i64)row * keep + i] = xr[pos[i]];
            indices[(i64)row * keep + i] = pos[i];
        }
    }
}

// Global path: scratch keys [rows, padded] and positions [rows, padded].
template <typename T>
__device__ void sort_global_init(typename SortKey<T>::type* key, int* pos, const T* x, int rows, int n, int padded) {
    typedef typename SortKey<T>::type K;
    LADON_GRID_LOOP(e, (i64)rows * padded) {
        i64 row = e / padded;
        int i = (int)(e % padded);
        key[e] = i < n ? (K)x[row * n + i] : K(0);
        pos[e] = i;
    }
}

// One compare-exchange step (size, stride) of the network over every row.
template <typename T>
__device__ void sort_global_step(typename SortKey<T>::type* key, int* pos, int rows, int n, int padded, int size,
                                 int stride, int descending) {
    typedef typename SortKey<T>::type K;
    LADON_GRID_LOOP(e, (i64)rows * padded) {
        int i = (int)(e % padded);
        int j = i ^ stride;
        if (j <= i) continue;
        i64 base = e - i;
        bool ascending = (i & size) == 0;
        K ki = key[base + i], kj = key[base + j];
        int pi = pos[base + i], pj = pos[base + j];
        bool swap = ascending ? sorts_before(kj, pj, ki, pi, n, descending) : sorts_before(ki, pi, kj, pj, n, descending);
        if (swap) {
            key[base + i] = kj; key[base + j] = ki;
            pos[base + i] = pj; pos[base + j] = pi;
        }
    }
}

template <typename T>
__device__ void sort_global_write(T* values, i64* indices, const int* pos, const T* x, int rows, int n, int padded,
                                  int keep) {
    LADON_GRID_LOOP(e, (i64)rows * keep) {
        i64 row = e / keep;
        int i = (int)(e % keep);
        int p = pos[row * padded + i];
        values[e] = x[row * n + p];
        indices[e] = p;
    }
}

#define LADON_SORT(S, T)                                                                                    \
    extern "C" __global__ void sort_rows_shared_##S(T* values, i64* indices, const T* x, int rows, int n,  \
                                                    int padded, int keep, int descending) {                \
        sort_rows_shared<T>(values, indices, x, rows, n, padded, keep, descending);                        \
    }                                                                                                      \
    extern "C" __global__ void sort_global_init_##S(SortKey<T>::type* key, int* pos, const T* x, int rows, \
                                                    int n, int padded) {                                   \
        sort_global_init<T>(key, pos, x, rows, n, padded);                                                 \
    }                                                                                                      \
    extern "C" __global__ void sort_global_step_##S(SortKey<T>::type* key, int* pos, int rows, int n,      \
                                                    int padded, int size, int stride, int descending) {    \
        sort_global_step<T>(key, pos, rows, n, padded, size, stride, descending);                          \
    }                                                                                                      \
    extern "C" __global__ void sort_global_write_##S(T* values, i64* indices, const int* pos, const T* x,  \
                                                     int rows, int n, int padded, int keep) {              \
        sort_global_write<T>(values, indices, pos, x, rows, n, padded, keep);                              \
    }
LADON_SORT(f32, float)
LADON_SORT(f64, double)
LADON_SORT(i32, int)
LADON_SORT(i64, i64)
LADON_SORT(u8, u8)
