package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import java.util.Arrays;

/** Launches {@code norm.cu}: layer norm and RMS norm over the last dim, forward and backward. */
final class NormKernels {
    static final String MODULE = "norm";

    private NormKernels() {
    }

    private static int rows(Tensor x) {
        int d = x.size(-1);
        return d == 0 ? 0 : x.numel() / d;
    }

    private static int[] withoutLast(int[] shape) {
        return Arrays.copyOf(shape, shape.length - 1);
    }

    private static long addressOrZero(CudaBackend b, Tensor t) {
        return t == null ? 0 : b.address(t);
    }

    static Tensor[] layerNorm(CudaBackend b, Tensor x, Tensor weight, Tensor bias, double eps) {
        return forward(b, x, weight, bias, eps, true);
    }

    static Tensor[] rmsNorm(CudaBackend b, Tensor x, Tensor weight, double eps) {
        Tensor[] r = forward(b, x, weight, null, eps, false);
        return new Tensor[] {r[0], r[2]};
    }

    private static Tensor[] forward(CudaBackend b, Tensor x, Tensor weight, Tensor bias, double eps, boolean centered) {
        Tensor xc = b.contiguous(x);
        Tensor w = weight == null ? null : b.contiguous(weight);
        Tensor bi = bias == null ? null : b.contiguous(bias);
        int d = x.size(-1);
        int n = rows(x);
        Tensor y = b.empty(x.dtype(), x.shape());
        Tensor mean = centered ? b.empty(x.dtype(), withoutLast(x.shape())) : null;
        Tensor rstd = b.empty(x.dtype(), withoutLast(x.shape()));
        if (n > 0) {
            b.launch(MODULE, "norm_forward_" + CudaBackend.suffix(x.dtype()), Math.min(n, CudaBackend.MAX_BLOCKS),
                    ReduceKernels.rowThreads(d), 0, new KernelArgs().pointer(b.address(y))
                            .pointer(addressOrZero(b, mean)).pointer(b.address(rstd)).pointer(b.address(xc))
                            .pointer(addressOrZero(b, w)).pointer(addressOrZero(b, bi)).i32(n).i32(d).f64(eps)
                            .i32(centered ? 1 : 0));
        }
        return new Tensor[] {y, mean, rstd};
    }

    static Tensor[] layerNormBackward(CudaBackend b, Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        return backward(b, gradY, x, weight, mean, rstd, true);
    }

    static Tensor[] rmsNormBackward(CudaBackend b, Tensor gradY, Tensor x, Tensor weight, Tensor rstd) {
        Tensor[] r = backward(b, gradY, x, weight, null, rstd, false);
        return new Tensor[] {r[0], r[1]};
    }

    private static Tensor[] backward(CudaBackend b, Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
            boolean centered) {
        String s = CudaBackend.suffix(x.dtype());
        Tensor xc = b.contiguous(x);
        Tensor gc = b.contiguous(gradY);
        Tensor w = weight == null ? null : b.contiguous(weight);
        Tensor mc = mean == null ? null : b.contiguous(mean);
        Tensor rc = b.contiguous(rstd);
        int d = x.size(-1);
        int n = rows(x);
        Tensor dx = b.empty(x.dtype(), x.shape());
        if (n > 0) {
            b.launch(MODULE, "norm_backward_" + s, Math.min(n, CudaBackend.MAX_BLOCKS), ReduceKernels.rowThreads(d), 0,
                    new KernelArgs().pointer(b.address(dx)).pointer(b.address(gc)).pointer(b.address(xc))
                            .pointer(addressOrZero(b, w)).pointer(addressOrZero(b, mc)).pointer(b.address(rc)).i32(n)
                            .i32(d).i32(centered ? 1 : 0));
        }
        if (weight == null) {
            return new Tensor[] {dx, null, null};
        }
        Tensor dw = b.empty(x.dtype(), d);
        Tensor db = centered ? b.empty(x.dtype(), d) : null;
        if (n == 0) {
            ElementwiseKernels.fill(b, dw, 0);
            if (db != null) {
                ElementwiseKernels.fill(b, db, 0);
            }
            return new Tensor[] {dx, dw, db};
        }
        int threads = 256;
        int colBlocks = (d + threads - 1) / threads;
        int splits = Math.max(1, Math.min(Math.min(256, n / 32), 512 / colBlocks));
        Tensor dwPartial = b.empty(DType.FLOAT64, splits, d);
        Tensor dbPartial = b.empty(DType.FLOAT64, splits, d);
        b.launch(MODULE, "norm_param_grads_" + s, colBlocks, splits, 1, threads, 0, new KernelArgs()
                .pointer(b.address(dwPartial)).pointer(b.address(dbPartial)).pointer(b.address(gc)).pointer(b.address(xc))
                .pointer(addressOrZero(b, mc)).pointer(b.address(rc)).i32(n).i32(d).i32(centered ? 1 : 0));
        b.launch(MODULE, "norm_param_grads_finish_" + s, CudaBackend.gridFor(d, threads), threads, 0, new KernelArgs()
                .pointer(b.address(dw)).pointer(addressOrZero(b, db)).pointer(b.address(dwPartial))
                .pointer(b.address(dbPartial)).i32(d).i32(splits));
        return new Tensor[] {dx, dw, db};
    }
}
