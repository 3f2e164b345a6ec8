// Layer norm and RMS norm over the last dim of contiguous rows [rows, d], forward and backward.
//
// One block per row (rows beyond the grid are strided). Statistics are accumulated in double, as on the
// CPU, so float32 inputs lose nothing to cancellation in the variance; the row is read from global memory
// once per pass and served from L2 after the first.
//
// The weight and bias gradients are sums over rows. Summing them inside the per-row kernel would need
// atomics on every element; instead norm_param_grads gives each block a range of rows and a range of
// columns (consecutive threads own consecutive columns, so reads are coalesced) and writes double
// partial sums, which norm_param_grads_finish adds up in a fixed order: deterministic.
#include "ladon.cuh"

// centered = 1: layer norm, y = (x - mean) rstd w + b; centered = 0: RMS norm, y = x rstd w.
// w and b may be null. mean may be null when not centered.
template <typename T>
__device__ void norm_forward(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int rows, int d,
                             double eps, int centered) {
    __shared__ double scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + (i64)row * d;
        T* yr = y + (i64)row * d;
        double mu = 0.0;
        if (centered) {
            double s = 0.0;
            for (int j = threadIdx.x; j < d; j += blockDim.x) s += (double)xr[j];
            mu = block_sum(s, scratch) / d;
        }
        double sq = 0.0;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            double c = (double)xr[j] - mu;
            sq += c * c;
        }
        double inv = 1.0 / sqrt(block_sum(sq, scratch) / d + eps);
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            double v = ((double)xr[j] - mu) * inv;
            if (w != nullptr) v *= (double)w[j];
            if (b != nullptr) v += (double)b[j];
            yr[j] = (T)v;
        }
        if (threadIdx.x == 0) {
            if (centered) mean[row] = (T)mu;
            rstd[row] = (T)inv;
        }
    }
}

// With xhat = (x - mean) rstd (or x rstd) and g = dy w:
// dx = rstd (g - mean(g) - xhat mean(g xhat)) for layer norm, rstd (g - xhat mean(g xhat)) for RMS norm.
template <typename T>
__device__ void norm_backward(T* dx, const T* dy, const T* x, const T* w, const T* mean, const T* rstd, int rows,
                              int d, int centered) {
    __shared__ double scratch[32];
    for (int row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + (i64)row * d;
        const T* gr = dy + (i64)row * d;
        T* o = dx + (i64)row * d;
        double m = centered ? (double)mean[row] : 0.0;
        double s = (double)rstd[row];
        double sumG = 0.0, sumGX = 0.0;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            double g = (double)gr[j] * (w != nullptr ? (double)w[j] : 1.0);
            sumG += g;
            sumGX += g * ((double)xr[j] - m) * s;
        }
        double meanG = centered ? block_sum(sumG, scratch) / d : 0.0;
        double meanGX = block_sum(sumGX, scratch) / d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            double g = (double)gr[j] * (w != nullptr ? (double)w[j] : 1.0);
            double xhat = ((double)xr[j] - m) * s;
            o[j] = (T)(s * (g - meanG - xhat * meanGX));
        }
    }
}

// Partial sums over a range of rows of dy xhat (-> dweight) and dy (-> dbias).
// Grid (ceil(d / blockDim), splits); writes partial[split][col] for both, as doubles.
template <typename T>
__device__ void norm_param_grads(double* dwPartial, double* dbPartial, const T* dy, const T* x, const T* mean,
                                 const T* rstd, int rows, int d, int centered) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    int splits = gridDim.y;
    int r0 = (int)((i64)rows * blockIdx.y / splits);
    int r1 = (int)((i64)rows * (blockIdx.y + 1) / splits);
    double dw = 0.0, db = 0.0;
    for (int r = r0; r < r1; r++) {
        double g = (double)dy[(i64)r * d + c];
        double xhat = ((double)x[(i64)r * d + c] - (centered ? (double)mean[r] : 0.0)) * (double)rstd[r];
        dw += g * xhat;
        db += g;
    }
    dwPartial[(i64)blockIdx.y * d + c] = dw;
    dbPartial[(i64)blockIdx.y * d + c] = db;
}

template <typename T>
__device__ void norm_param_grads_finish(T* dw, T* db, const double* dwPartial, const double* dbPartial, int d,
                                        int splits) {
    LADON_GRID_LOOP(c, d) {
        double sw = 0.0, sb = 0.0;
        for (int p = 0; p < splits; p++) {
            sw += dwPartial[(i64)p * d + c];
            sb += dbPartial[(i64)p * d + c];
        }
        dw[c] = (T)sw;
        if (db != nullptr) db[c] = (T)sb;
    }
}

#define LADON_NORM(S, T)                                                                                    \
    extern "C" __global__ void norm_forward_##S(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, \
                                                int rows, int d, double eps, int centered) {               \
        norm_forward<T>(y, mean, rstd, x, w, b, rows, d, eps, centered);                                   \
    }                                                                                                      \
    extern "C" __global__ void norm_backward_##S(T* dx, const T* dy, const T* x, const T* w, const T* mean, \
                                                 const T* rstd, int rows, int d, int centered) {           \
        norm_backward<T>(dx, dy, x, w, mean, rstd, rows, d, centered);                                     \
    }                                                                                                      \
    extern "C" __global__ void norm_param_grads_##S(double* dwPartial, double* dbPartial, const T* dy,     \
                                                    const T* x, const T* mean, const T* rstd, int rows,    \
                                                    int d, int centered) {                                 \
        norm_param_grads<T>(dwPartial, dbPartial, dy, x, mean, rstd, rows, d, centered);                   \
    }                                                                                                      \
    extern "C" __global__ void norm_param_grads_finish_##S(T* dw, T* db, const double* dwPartial,          \
                                                           const double* dbPartial, int d, int splits) {   \
        norm_param_grads_finish<T>(dw, db, dwPartial, dbPartial, d, splits);                               \
    }
LADON_NORM(f32, float)
LADON_NORM(f64, double)
