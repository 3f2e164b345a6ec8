// The fused AdamW step: one pass over param, grad and both moments (four reads, three writes per
// element) instead of a dozen elementwise kernels. All tensors contiguous; arithmetic in double with the
// moments rounded to the parameter's dtype before they update it, exactly as the CPU kernel does.
#include "ladon.cuh"

template <typename T>
__device__ void adamw(T* p, const T* g, T* m, T* v, int n, double beta1, double beta2, double eps, double decay,
                      double stepSize, double sqrtC2) {
    LADON_GRID_LOOP(i, n) {
        double gi = (double)g[i];
        T mi = (T)(beta1 * (double)m[i] + (1.0 - beta1) * gi);
        T vi = (T)(beta2 * (double)v[i] + (1.0 - beta2) * gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = (T)((double)p[i] * decay - stepSize * (double)mi / (sqrt((double)vi) / sqrtC2 + eps));
    }
}

extern "C" __global__ void adamw_f32(float* p, const float* g, float* m, float* v, int n, double beta1, double beta2,
                                     double eps, double decay, double stepSize, double sqrtC2) {
    adamw<float>(p, g, m, v, n, beta1, beta2, eps, decay, stepSize, sqrtC2);
}

extern "C" __global__ void adamw_f64(double* p, const double* g, double* m, double* v, int n, double beta1,
                                     double beta2, double eps, double decay, double stepSize, double sqrtC2) {
    adamw<double>(p, g, m, v, n, beta1, beta2, eps, decay, stepSize, sqrtC2);
}
