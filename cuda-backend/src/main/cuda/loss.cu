// Cross-entropy over rows of logits [n, c] with integer targets, label smoothing and an ignore index.
//
// Forward: one block per row computes the row's max, the sum of exp(x - max) and the plain sum (for
// the smoothing term), all in double, and stores the loss and the logsumexp that backward reuses:
//   loss = (1 - s) (logZ - x[t]) + s (logZ - mean(x)),  logZ = logsumexp(x).
// A target outside [0, c) that is not the ignore index is reported through the IndexError record and
// its loss is NaN. Backward is elementwise: dx = g (exp(x - logZ) - s / c - [j == t] (1 - s)).
#include "ladon.cuh"

#define CROSS_ENTROPY_OP 4  // IndexErrors.Op.CROSS_ENTROPY

template <typename T, typename I>
__device__ void cross_entropy_forward(T* loss, T* lse, const T* logits, const I* target, int tstride, int n, int c,
                                      int ignore, double smoothing, IndexError* err) {
    __shared__ double scratch[32];
    for (int row = blockIdx.x; row < n; row += gridDim.x) {
        const T* x = logits + (i64)row * c;
        double m = -__longlong_as_double(0x7ff0000000000000LL);
        for (int j = threadIdx.x; j < c; j += blockDim.x) {
            double v = (double)x[j];
            m = (v != v || v > m) ? v : m;
        }
        m = block_max(m, scratch);
        double se = 0.0, sum = 0.0;
        for (int j = threadIdx.x; j < c; j += blockDim.x) {
            double v = (double)x[j];
            se += exp(v - m);
            sum += v;
        }
        se = block_sum(se, scratch);
        sum = block_sum(sum, scratch);
        if (threadIdx.x == 0) {
            double logZ = m + log(se);
            lse[row] = (T)logZ;
            i64 t = (i64)target[(i64)row * tstride];
            if (t == ignore) {
                loss[row] = T(0);
            } else if (t < 0 || t >= c) {
                report_index_error(err, CROSS_ENTROPY_OP, t, c, row);
                loss[row] = (T)__longlong_as_double(0x7ff8000000000000LL);
            } else {
                double nll = logZ - (double)x[t];
                double uniform = logZ - sum / c;
                loss[row] = (T)((1.0 - smoothing) * nll + smoothing * uniform);
            }
        }
    }
}

// gstride: 0 when one scalar gradient applies to every row.
template <typename T, typename I>
__device__ void cross_entropy_backward(T* grad, const T* gradLoss, int gstride, const T* logits, const I* target,
                                       int tstride, const T* lse, int n, int c, int ignore, double smoothing) {
    LADON_GRID_LOOP(i, (i64)n * c) {
        int row = (int)(i / c);
        int j = (int)(i % c);
        i64 t = (i64)target[(i64)row * tstride];
        if (t == ignore) {
            grad[i] = T(0);
            continue;
        }
        double g = (double)gradLoss[(i64)row * gstride];
        double p = exp((double)logits[i] - (double)lse[row]);
        grad[i] = (T)(g * (p - smoothing / c - (j == t ? 1.0 - smoothing : 0.0)));
    }
}

#define LADON_CE(S, T, IS, I)                                                                               \
    extern "C" __global__ void cross_entropy_forward_##S##_##IS(T* loss, T* lse, const T* logits,          \
                                                                const I* target, int tstride, int n, int c, \
                                                                int ignore, double smoothing,              \
                                                                IndexError* err) {                         \
        cross_entropy_forward<T, I>(loss, lse, logits, target, tstride, n, c, ignore, smoothing, err);     \
    }                                                                                                      \
    extern "C" __global__ void cross_entropy_backward_##S##_##IS(T* grad, const T* gradLoss, int gstride,  \
                                                                 const T* logits, const I* target,         \
                                                                 int tstride, const T* lse, int n, int c,  \
                                                                 int ignore, double smoothing) {           \
        cross_entropy_backward<T, I>(grad, gradLoss, gstride, logits, target, tstride, lse, n, c, ignore,  \
                                     smoothing);                                                           \
    }
LADON_CE(f32, float, i32, int)
LADON_CE(f32, float, i64, i64)
LADON_CE(f64, double, i32, int)
LADON_CE(f64, double, i64, i64)
