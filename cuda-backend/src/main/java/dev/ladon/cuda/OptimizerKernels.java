package dev.ladon.cuda;

import dev.ladon.tensor.Tensor;

/** Launches {@code optim.cu}: the fused AdamW step. */
final class OptimizerKernels {
    static final String MODULE = "optim";

    private OptimizerKernels() {
    }

    static void adamW(CudaBackend b, Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double beta1,
            double beta2, double eps, double weightDecay, long step) {
        int n = param.numel();
        if (n == 0) {
            return;
        }
        Tensor g = b.contiguous(grad);
        double c1 = 1 - Math.pow(beta1, step);
        double c2 = 1 - Math.pow(beta2, step);
        b.launch(MODULE, "adamw_" + CudaBackend.suffix(param.dtype()), CudaBackend.gridFor(n, CudaBackend.THREADS),
                CudaBackend.THREADS, 0, new KernelArgs().pointer(b.address(param)).pointer(b.address(g))
                        .pointer(b.address(m)).pointer(b.address(v)).i32(n).f64(beta1).f64(beta2).f64(eps)
                        .f64(1 - lr * weightDecay).f64(lr / c1).f64(Math.sqrt(c2)));
    }
}
