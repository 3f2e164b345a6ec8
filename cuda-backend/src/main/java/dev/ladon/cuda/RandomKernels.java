package dev.ladon.cuda;

import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.RandomDistribution;

/** Launches {@code random.cu}: Philox fills that reproduce the CPU backend's stream. */
final class RandomKernels {
    static final String MODULE = "random";

    private RandomKernels() {
    }

    static void random(CudaBackend b, Tensor dst, RandomDistribution dist, long seed, long offset, double lo,
            double hi) {
        if (!dst.dtype().isFloating()) {
            throw new IllegalArgumentException("random: needs a floating tensor, got " + dst.dtype());
        }
        Tensor target = dst.isContiguous() ? dst : b.empty(dst.dtype(), dst.shape());
        int n = target.numel();
        if (n > 0) {
            KernelArgs args = new KernelArgs().pointer(b.address(target)).i32(n).i64(seed).i64(offset)
                    .i32(dist.ordinal()).f64(lo).f64(hi);
            b.launch(MODULE, "random_" + CudaBackend.suffix(dst.dtype()), CudaBackend.gridFor(n, CudaBackend.THREADS),
                    CudaBackend.THREADS, 0, args);
        }
        if (target != dst) {
            ElementwiseKernels.copy(b, dst, target);
        }
    }
}
