package dev.ladon.cuda;

import dev.ladon.tensor.Tensor;

/** Launches {@code loss.cu}: cross-entropy forward and backward. */
final class LossKernels {
    static final String MODULE = "loss";

    private LossKernels() {
    }

    private static int rowStride(Tensor t) {
        return t.numel() <= 1 || t.dim() == 0 ? 0 : t.stride(0);
    }

    static Tensor[] crossEntropy(CudaBackend b, Tensor logits, Tensor target, int ignoreIndex, double smoothing) {
        Tensor lc = b.contiguous(logits);
        int n = logits.size(0);
        int c = logits.size(1);
        Tensor loss = b.empty(logits.dtype(), n);
        Tensor lse = b.empty(logits.dtype(), n);
        if (n > 0) {
            String kernel = "cross_entropy_forward_" + CudaBackend.suffix(logits.dtype()) + "_"
                    + CudaBackend.suffix(target.dtype());
            b.launch(MODULE, kernel, Math.min(n, CudaBackend.MAX_BLOCKS), ReduceKernels.rowThreads(c), 0,
                    new KernelArgs().pointer(b.address(loss)).pointer(b.address(lse)).pointer(b.address(lc))
                            .pointer(b.address(target)).i32(rowStride(target)).i32(n).i32(c).i32(ignoreIndex)
                            .f64(smoothing).pointer(b.indexErrorAddress()));
            b.afterIndexCheck();
        }
        return new Tensor[] {loss, lse};
    }

    static Tensor crossEntropyBackward(CudaBackend b, Tensor gradLoss, Tensor logits, Tensor target, Tensor lse,
            int ignoreIndex, double smoothing) {
        Tensor lc = b.contiguous(logits);
        Tensor lsec = b.contiguous(lse);
        int n = logits.size(0);
        int c = logits.size(1);
        Tensor grad = b.empty(logits.dtype(), n, c);
        long total = (long) n * c;
        if (total > 0) {
            String kernel = "cross_entropy_backward_" + CudaBackend.suffix(logits.dtype()) + "_"
                    + CudaBackend.suffix(target.dtype());
            b.launch(MODULE, kernel, CudaBackend.gridFor(total, CudaBackend.THREADS), CudaBackend.THREADS, 0,
                    new KernelArgs().pointer(b.address(grad)).pointer(b.address(gradLoss)).i32(rowStride(gradLoss))
                            .pointer(b.address(lc)).pointer(b.address(target)).i32(rowStride(target))
                            .pointer(b.address(lsec)).i32(n).i32(c).i32(ignoreIndex).f64(smoothing));
        }
        return grad;
    }
}
