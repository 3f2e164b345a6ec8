package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;

/**
 * Launches {@code sort.cu}: stable sort and top-k along a dim, which is moved last and made contiguous.
 * Rows up to {@value #SHARED_MAX} elements sort in shared memory, one block per row; longer rows take the
 * global-memory network.
 */
final class SortKernels {
    static final String MODULE = "sort";
    static final int SHARED_MAX = 2048;

    private SortKernels() {
    }

    static Tensor[] sort(CudaBackend b, Tensor x, int dim, boolean descending) {
        return sorted(b, x, dim, descending, -1);
    }

    static Tensor[] topk(CudaBackend b, Tensor x, int k, int dim, boolean largest) {
        return sorted(b, x, dim, largest, k);
    }

    static int paddedLength(int n) {
        return n <= 1 ? 1 : Integer.highestOneBit(n - 1) << 1;
    }

    private static Tensor[] sorted(CudaBackend b, Tensor x, int dim, boolean descending, int keep) {
        if (x.dim() == 0) {
            if (keep == 0) {
                return new Tensor[] {b.empty(x.dtype(), 0), b.empty(DType.INT64, 0)};
            }
            Tensor v = b.empty(x.dtype());
            ElementwiseKernels.copy(b, v, x);
            return new Tensor[] {v, b.zeros(DType.INT64)};
        }
        int last = x.dim() - 1;
        Tensor rows = b.contiguous(dim == last ? x : x.transpose(dim, last));
        int n = rows.size(-1);
        int k = keep < 0 ? n : keep;
        int count = n == 0 ? 0 : rows.numel() / n;
        int[] outShape = rows.shape();
        outShape[last] = k;
        Tensor values = b.empty(x.dtype(), outShape);
        Tensor indices = b.empty(DType.INT64, outShape);
        if (count > 0 && k > 0) {
            String s = CudaBackend.suffix(x.dtype());
            int padded = paddedLength(n);
            int desc = descending ? 1 : 0;
            if (n <= SHARED_MAX) {
                int threads = Math.max(32, Math.min(1024, padded / 2));
                int shared = padded * (8 + 4);  // 8-byte keys (double or int64) and int positions
                b.launch(MODULE, "sort_rows_shared_" + s, Math.min(count, CudaBackend.MAX_BLOCKS), threads, shared,
                        new KernelArgs().pointer(b.address(values)).pointer(b.address(indices)).pointer(b.address(rows))
                                .i32(count).i32(n).i32(padded).i32(k).i32(desc));
            } else {
                long total = (long) count * padded;
                if (total > Integer.MAX_VALUE) {
                    throw new UnsupportedOperationException("sort on CUDA: " + count + " rows of " + n
                            + " elements need more scratch than one tensor holds");
                }
                Tensor keys = b.empty(x.dtype().isFloating() ? DType.FLOAT64 : DType.INT64, (int) total);
                Tensor pos = b.empty(DType.INT32, (int) total);
                int grid = CudaBackend.gridFor(total, CudaBackend.THREADS);
                b.launch(MODULE, "sort_global_init_" + s, grid, CudaBackend.THREADS, 0, new KernelArgs()
                        .pointer(b.address(keys)).pointer(b.address(pos)).pointer(b.address(rows)).i32(count).i32(n)
                        .i32(padded));
                for (int size = 2; size <= padded; size <<= 1) {
                    for (int stride = size >> 1; stride > 0; stride >>= 1) {
                        b.launch(MODULE, "sort_global_step_" + s, grid, CudaBackend.THREADS, 0, new KernelArgs()
                                .pointer(b.address(keys)).pointer(b.address(pos)).i32(count).i32(n).i32(padded)
                                .i32(size).i32(stride).i32(desc));
                    }
                }
                b.launch(MODULE, "sort_global_write_" + s, CudaBackend.gridFor((long) count * k, CudaBackend.THREADS),
                        CudaBackend.THREADS, 0, new KernelArgs().pointer(b.address(values)).pointer(b.address(indices))
                                .pointer(b.address(pos)).pointer(b.address(rows)).i32(count).i32(n).i32(padded).i32(k));
            }
        }
        if (dim == last) {
            return new Tensor[] {values, indices};
        }
        return new Tensor[] {b.contiguous(values.transpose(dim, last)), b.contiguous(indices.transpose(dim, last))};
    }
}
