// Softmax and log-softmax over the last dim of contiguous rows [rows, n], forward and backward.
//
// One block per row (the host picks 32..1024 threads by n, so a short row is one warp and a vocabulary-
// sized row a full block); rows beyond the grid are strided. Three passes over the row, which is read
// from L2 after the first: the max, the sum of exp(x - max) accumulated in double, and the output
// exp((x - max) - log(sum)) or (x - max) - log(sum): subtracting the max first keeps log(sum) from being
// rounded away when the max is large, as in max + log(sum). The max also keeps exp from overflowing; the
// float32 path evaluates exp in float (as the CPU's vector path does) and only the sums in double.
#include "ladon.cuh"

template <typename T>
__device__ void softmax_rows(T* out, const T* x, int rows, int n, int log_softmax) {
    __shared__ double scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* r = x + (i64)row * n;
        T* o = out + (i64)row * n;
        double m = -__longlong_as_double(0x7ff0000000000000LL);
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            double v = (double)r[j];
            m = (v != v || v > m) ? v : m;
        }
        m = block_max(m, scratch);
        T mt = (T)m;
        double s = 0.0;
        for (int j = threadIdx.x; j < n; j += blockDim.x) s += (double)exp(r[j] - mt);
        s = block_sum(s, scratch);
        T log_s = (T)log(s);
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            T v = (r[j] - mt) - log_s;
            o[j] = log_softmax ? v : exp(v);
        }
    }
}

// softmax: dx = y (dy - sum(dy y)); log-softmax: dx = dy - exp(y) sum(dy).
template <typename T>
__device__ void softmax_backward_rows(T* dx, const T* y, const T* dy, int rows, int n, int log_softmax) {
    __shared__ double scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* yr = y + (i64)row * n;
        const T* gr = dy + (i64)row * n;
        T* o = dx + (i64)row * n;
        double dot = 0.0;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            dot += log_softmax ? (double)gr[j] : (double)gr[j] * (double)yr[j];
        }
        dot = block_sum(dot, scratch);
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            double g = (double)gr[j], yv = (double)yr[j];
            o[j] = (T)(log_softmax ? g - exp(yv) * dot : yv * (g - dot));
        }
    }
}

#define LADON_SOFTMAX(S, T)                                                                                 \
    extern "C" __global__ void softmax_##S(T* out, const T* x, int rows, int n, int log_softmax) {         \
        softmax_rows<T>(out, x, rows, n, log_softmax);                                                     \
    }                                                                                                      \
    extern "C" __global__ void softmax_backward_##S(T* dx, const T* y, const T* dy, int rows, int n,       \
                                                    int log_softmax) {                                     \
        softmax_backward_rows<T>(dx, y, dy, rows, n, log_softmax);                                         \
    }
LADON_SOFTMAX(f32, float)
LADON_SOFTMAX(f64, double)
