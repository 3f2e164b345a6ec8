package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/**
 * Batched matrix products over strided operands. Each batch entry is one GEMM in {@link Gemm}, the packed
 * and register-blocked kernel, which reads transposed operands through their strides while packing, so
 * {@code a.mT()} never costs a copy. When B is one matrix broadcast over the batch and A's batch entries
 * follow one another row after row (a linear layer applied to [B, T, C]), the batch is folded into A's
 * rows: one [B T, K] x [K, N] product packs B once instead of once per entry.
 */
final class MatmulKernels {
    private MatmulKernels() {
    }

    static Tensor matmul(Tensor a, Tensor b) {
        int rank = a.dim();
        int m = a.size(-2);
        int k = a.size(-1);
        int n = b.size(-1);
        int[] outShape = a.shape();
        outShape[rank - 1] = n;
        // The GEMM overwrites C in its first depth block; with k = 0 there is none, and C is zeros.
        Tensor out = k == 0 ? CpuBackend.INSTANCE.newTensor(a.dtype(), outShape)
                : CpuBackend.INSTANCE.newOutput(a.dtype(), outShape);
        if (out.numel() == 0) {
            return out;
        }
        int batch = out.numel() / (m * n);
        int[] aOff = batchOffsets(a, batch);
        int[] bOff = batchOffsets(b, batch);
        int ars = a.stride(-2);
        int acs = a.stride(-1);
        int brs = b.stride(-2);
        int bcs = b.stride(-1);
        if (batch > 1 && sameOffsets(bOff) && rowsFollowOn(aOff, m, ars)) {
            m *= batch;
            batch = 1;
            aOff = new int[] {aOff[0]};
            bOff = new int[] {bOff[0]};
        }
        if (a.dtype() == DType.FLOAT32) {
            Gemm.batched(batch, m, n, k, ElementwiseKernels.floats(a), aOff, ars, acs, ElementwiseKernels.floats(b),
                    bOff, brs, bcs, ElementwiseKernels.floats(out));
        } else {
            CpuStorage as = ElementwiseKernels.storage(a);
            CpuStorage bs = ElementwiseKernels.storage(b);
            Gemm.batched(batch, m, n, k, as.doubles(), aOff, ars, acs, bs.doubles(), bOff, brs, bcs,
                    ElementwiseKernels.storage(out).doubles());
        }
        return out;
    }

    /**
     * float32 x [N, in] W^T (+ bias) (then ReLU), in > 0: one product whose epilogue adds the bias and takes the
     * ReLU on each block of the output while it is in cache ({@link Gemm.Epilogue}).
     */
    static Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean relu) {
        int n = x.size(0);
        int out = weight.size(0);
        Tensor y = CpuBackend.INSTANCE.newOutput(x.dtype(), n, out);
        if (y.numel() == 0) {
            return y;
        }
        Tensor b = bias == null ? null : bias.contiguous();
        Gemm.Epilogue epilogue = b == null && !relu ? null
                : new Gemm.Epilogue(b == null ? null : ElementwiseKernels.floats(b), b == null ? 0 : b.offset(), relu);
        // B = W^T: B[p, j] = W[j, p].
        Gemm.batched(1, n, out, x.size(1), ElementwiseKernels.floats(x), new int[] {x.offset()}, x.stride(0), x.stride(1),
                ElementwiseKernels.floats(weight), new int[] {weight.offset()}, weight.stride(1), weight.stride(0),
                ElementwiseKernels.floats(y), epilogue);
        return y;
    }

    /**
     * float32 gradients of y = x W^T + b from g = dL/dy [N, out], as
     * {@link dev.ladon.tensor.backend.Backend#linearBackward}: dx = g W (masked by x &gt; 0 in the product's
     * epilogue when reluInput), dW = g^T x, whose packing of g^T also sums db (the bias gradient costs no pass
     * of its own). N and out at least 1.
     */
    static Tensor[] linearBackward(Tensor g, Tensor x, Tensor weight, boolean needInput, boolean needWeight,
            boolean needBias, boolean reluInput) {
        int n = g.size(0);
        int out = g.size(1);
        int in = x.size(1);
        float[] ga = ElementwiseKernels.floats(g);
        Tensor dx = null;
        if (needInput) {
            dx = CpuBackend.INSTANCE.newOutput(g.dtype(), n, in);
            Gemm.Epilogue mask = null;
            if (reluInput) {
                Tensor xc = x.contiguous();
                mask = Gemm.Epilogue.reluGradient(ElementwiseKernels.floats(xc), xc.offset());
            }
            Gemm.batched(1, n, in, out, ga, new int[] {g.offset()}, g.stride(0), g.stride(1),
                    ElementwiseKernels.floats(weight), new int[] {weight.offset()}, weight.stride(0), weight.stride(1),
                    ElementwiseKernels.floats(dx), mask);
        }
        Tensor dw = null;
        Tensor db = null;
        if (needWeight) {
            dw = CpuBackend.INSTANCE.newOutput(g.dtype(), out, in);
            db = needBias ? CpuBackend.INSTANCE.newOutput(g.dtype(), out) : null;
            // A = g^T: A[i, p] = g[p, i].
            Gemm.productWithRowSums(out, in, n, ga, g.offset(), g.stride(1), g.stride(0), ElementwiseKernels.floats(x),
                    x.offset(), x.stride(0), x.stride(1), ElementwiseKernels.floats(dw),
                    db == null ? null : ElementwiseKernels.floats(db), db == null ? 0 : db.offset());
        } else if (needBias) {
            db = g.sum(0);
        }
        return new Tensor[] {dx, dw, db};
    }

    private static boolean sameOffsets(int[] offsets) {
        for (int o : offsets) {
            if (o != offsets[0]) {
                return false;
            }
        }
        return true;
    }

    /** True when entry bi's rows start where entry bi-1's would continue: A is one [batch m, K] matrix. */
    private static boolean rowsFollowOn(int[] offsets, int m, int rowStride) {
        for (int bi = 0; bi < offsets.length; bi++) {
            if (offsets[bi] != offsets[0] + bi * m * rowStride) {
                return false;
            }
        }
        return true;
    }

    /** Storage offset of each batch entry's [0, 0] element (batch dims in row-major order). */
    static int[] batchOffsets(Tensor t, int batch) {
        int[] shape = t.shape();
        int[] strides = t.strides();
        int batchRank = shape.length - 2;
        int[] offsets = new int[batch];
        for (int bi = 0; bi < batch; bi++) {
            int rem = bi;
            int off = t.offset();
            for (int d = batchRank - 1; d >= 0; d--) {
                off += (rem % shape[d]) * strides[d];
                rem /= shape[d];
            }
            offsets[bi] = off;
        }
        return offsets;
    }
}
