package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/**
 * Batched matrix products over strided operands. Each batch entry is one GEMM; float32 goes to
 * {@link Gemm}, the packed and register-blocked kernel, which reads transposed operands through their
 * strides while packing, so {@code a.mT()} never costs a copy. Other dtypes use a plain loop.
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
        Tensor out = CpuBackend.INSTANCE.newTensor(a.dtype(), outShape);
        int batch = out.numel() / Math.max(m * n, 1);
        if (out.numel() == 0) {
            return out;
        }
        int[] aOff = batchOffsets(a, batch);
        int[] bOff = batchOffsets(b, batch);
        int ars = a.stride(-2);
        int acs = a.stride(-1);
        int brs = b.stride(-2);
        int bcs = b.stride(-1);
        if (a.dtype() == DType.FLOAT32) {
            Gemm.batched(batch, m, n, k, ElementwiseKernels.floats(a), aOff, ars, acs,
                    ElementwiseKernels.floats(b), bOff, brs, bcs, ElementwiseKernels.floats(out));
            return out;
        }
        CpuStorage as = ElementwiseKernels.storage(a);
        CpuStorage bs = ElementwiseKernels.storage(b);
        CpuStorage os = ElementwiseKernels.storage(out);
        Parallel.forRange(batch * m, Math.max(1, 16384 / Math.max(n * k, 1)), (r0, r1) -> {
            double[] row = new double[n];
            for (int r = r0; r < r1; r++) {
                int bi = r / m;
                int i = r % m;
                java.util.Arrays.fill(row, 0);
                for (int p = 0; p < k; p++) {
                    double av = as.getDouble(aOff[bi] + i * ars + p * acs);
                    int bo = bOff[bi] + p * brs;
                    for (int j = 0; j < n; j++) {
                        row[j] += av * bs.getDouble(bo + j * bcs);
                    }
                }
                os.store((bi * m + i) * n, 1, row, n);
            }
        });
        return out;
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
