package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.ReduceOp;
import java.util.Arrays;

/**
 * Launches {@code reduce.cu} (reductions, cumsum) and {@code softmax.cu}. Reductions over leading dims
 * of a contiguous floating tensor with SUM/MEAN use the column kernel; everything else is permuted so
 * the reduced dims come last, made contiguous, and reduced row by row.
 */
final class ReduceKernels {
    static final String MODULE = "reduce";
    static final String SOFTMAX_MODULE = "softmax";
    /** Rows up to this length are reduced by one warp each. */
    static final int WARP_ROW_LIMIT = 1024;
    /** Blocks of the long-row kernel. */
    static final int BLOCK_THREADS = 512;
    /** With fewer rows than this, long rows are split across several blocks each. */
    static final int FEW_ROWS = 128;

    private ReduceKernels() {
    }

    static Tensor reduce(CudaBackend b, ReduceOp op, Tensor x, int[] dims, boolean keepDim) {
        int[] shape = x.shape();
        boolean[] reduced = new boolean[shape.length];
        long reduceCount = 1;
        int[] kept = shape.clone();
        for (int d : dims) {
            reduced[d] = true;
            reduceCount *= shape[d];
            kept[d] = 1;
        }
        int[] outShape = keepDim ? kept : removeDims(shape, reduced);
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        DType outType = arg ? DType.INT64 : x.dtype();
        int rows = 1;
        for (int s : outShape) {
            rows *= s;
        }
        if (rows == 0) {
            return b.empty(outType, outShape);
        }
        if (dims.length == 0) {
            // Reducing over no dims keeps every element (an arg-reduction of a 0-dim tensor is index 0).
            if (arg) {
                return b.zeros(outType, outShape);
            }
            Tensor out = b.empty(outType, outShape);
            ElementwiseKernels.copy(b, out.view(x.shape()), x);
            return out;
        }
        if (reduceCount == 0) {
            Tensor out = b.empty(outType, outShape);
            // Empty: a sum is 0, a logsumexp -inf, a mean 0 / 0 (Tensor refuses the other ops first).
            ElementwiseKernels.fill(b, out, op == ReduceOp.LOGSUMEXP ? Double.NEGATIVE_INFINITY
                    : op == ReduceOp.MEAN ? Double.NaN : 0.0);
            return out;
        }
        Tensor out = b.empty(outType, outShape);
        boolean leading = true;
        for (int d = 0; d < dims.length; d++) {
            leading &= reduced[d];
        }
        if (leading && x.isContiguous() && x.dtype().isFloating() && (op == ReduceOp.SUM || op == ReduceOp.MEAN)
                && rows >= 32) {
            columns(b, out, x, (int) reduceCount, rows, op == ReduceOp.MEAN);
            return out;
        }
        int[] order = new int[shape.length];
        int j = 0;
        for (int d = 0; d < shape.length; d++) {
            if (!reduced[d]) {
                order[j++] = d;
            }
        }
        for (int d = 0; d < shape.length; d++) {
            if (reduced[d]) {
                order[j++] = d;
            }
        }
        Tensor rowMajor = b.contiguous(x.permute(order));
        rowsKernel(b, op, out, rowMajor, rows, (int) reduceCount);
        return out;
    }

    static int[] removeDims(int[] shape, boolean[] drop) {
        int n = 0;
        for (boolean d : drop) {
            n += d ? 0 : 1;
        }
        int[] r = new int[n];
        for (int d = 0, j = 0; d < shape.length; d++) {
            if (!drop[d]) {
                r[j++] = shape[d];
            }
        }
        return r;
    }

    /** out[c] = sum (or mean) over r of x[r, c], x contiguous [R, C]. */
    private static void columns(CudaBackend b, Tensor out, Tensor x, int rowsReduced, int cols, boolean mean) {
        String s = CudaBackend.suffix(x.dtype());
        int threads = 256;
        int colBlocks = (cols + threads - 1) / threads;
        // Enough row splits to give the GPU a few hundred blocks, each still summing at least 64 rows.
        int splits = Math.max(1, Math.min(Math.min(256, rowsReduced / 64), 512 / colBlocks));
        Tensor partial = splits > 1 ? b.empty(DType.FLOAT64, splits, cols) : null;
        b.launch(MODULE, "reduce_cols_" + s, colBlocks, splits, 1, threads, 0, new KernelArgs().pointer(b.address(out))
                .pointer(b.address(x)).i32(rowsReduced).i32(cols).i32(mean ? 1 : 0)
                .pointer(partial == null ? 0 : b.address(partial)));
        if (partial != null) {
            b.launch(MODULE, "reduce_cols_finish_" + s, CudaBackend.gridFor(cols, threads), threads, 0,
                    new KernelArgs().pointer(b.address(out)).pointer(b.address(partial)).i32(rowsReduced).i32(cols)
                            .i32(splits).i32(mean ? 1 : 0));
        }
    }

    /** out[r] = op over contiguous x [rows, n]. */
    private static void rowsKernel(CudaBackend b, ReduceOp op, Tensor out, Tensor x, int rows, int n) {
        String s = CudaBackend.suffix(x.dtype());
        if (n <= WARP_ROW_LIMIT) {
            int warps = CudaBackend.THREADS / 32;
            b.launch(MODULE, "reduce_rows_warp_" + s, CudaBackend.gridFor(rows, warps), CudaBackend.THREADS, 0,
                    new KernelArgs().pointer(b.address(out)).pointer(b.address(x)).i32(rows).i32(n).i32(op.ordinal()));
            return;
        }
        int chunks = 1;
        if (rows < FEW_ROWS) {
            // Split each row so that the grid has a few hundred blocks, each over at least 8K elements.
            chunks = Math.max(1, Math.min(Math.max(1, 512 / rows), n / 8192));
        }
        Tensor scratch = chunks > 1 ? b.empty(DType.INT64, rows * chunks * 3) : null;
        b.launch(MODULE, "reduce_rows_block_" + s, chunks, Math.min(rows, CudaBackend.MAX_BLOCKS), 1, BLOCK_THREADS, 0,
                new KernelArgs().pointer(b.address(out)).pointer(b.address(x)).i32(rows).i32(n).i32(op.ordinal())
                        .pointer(scratch == null ? 0 : b.address(scratch)));
        if (scratch != null) {
            int warps = CudaBackend.THREADS / 32;
            b.launch(MODULE, "reduce_finish_" + s, CudaBackend.gridFor(rows, warps), CudaBackend.THREADS, 0,
                    new KernelArgs().pointer(b.address(out)).pointer(b.address(scratch)).i32(rows).i32(chunks).i32(n)
                            .i32(op.ordinal()));
        }
    }

    // ---- softmax --------------------------------------------------------------------------------

    /** Threads per row for the one-block-per-row kernels: a warp for short rows, up to 1024 for long ones. */
    static int rowThreads(int n) {
        if (n >= 4096) {
            return 1024;
        }
        return Math.max(32, Math.min(512, (n + 31) / 32 * 32));
    }

    static Tensor softmax(CudaBackend b, Tensor x, int dim, boolean log) {
        if (x.dim() == 0) {
            Tensor out = b.empty(x.dtype());
            ElementwiseKernels.fill(b, out, log ? 0.0 : 1.0);
            return out;
        }
        int last = x.dim() - 1;
        Tensor rows = b.contiguous(dim == last ? x : x.transpose(dim, last));
        int n = rows.size(-1);
        int count = n == 0 ? 0 : rows.numel() / n;
        Tensor out = b.empty(x.dtype(), rows.shape());
        if (count > 0) {
            b.launch(SOFTMAX_MODULE, "softmax_" + CudaBackend.suffix(x.dtype()), Math.min(count, CudaBackend.MAX_BLOCKS),
                    rowThreads(n), 0, new KernelArgs().pointer(b.address(out)).pointer(b.address(rows)).i32(count).i32(n)
                            .i32(log ? 1 : 0));
        }
        return dim == last ? out : b.contiguous(out.transpose(dim, last));
    }

    static Tensor softmaxBackward(CudaBackend b, Tensor y, Tensor gy, int dim, boolean log) {
        if (y.dim() == 0) {
            return b.zeros(y.dtype());
        }
        int last = y.dim() - 1;
        Tensor yr = b.contiguous(dim == last ? y : y.transpose(dim, last));
        Tensor gr = b.contiguous(dim == last ? gy : gy.transpose(dim, last));
        int n = yr.size(-1);
        int count = n == 0 ? 0 : yr.numel() / n;
        Tensor out = b.empty(y.dtype(), yr.shape());
        if (count > 0) {
            b.launch(SOFTMAX_MODULE, "softmax_backward_" + CudaBackend.suffix(y.dtype()),
                    Math.min(count, CudaBackend.MAX_BLOCKS), rowThreads(n), 0, new KernelArgs().pointer(b.address(out))
                            .pointer(b.address(yr)).pointer(b.address(gr)).i32(count).i32(n).i32(log ? 1 : 0));
        }
        return dim == last ? out : b.contiguous(out.transpose(dim, last));
    }

    // ---- cumsum ---------------------------------------------------------------------------------

    static Tensor cumsum(CudaBackend b, Tensor x, int dim) {
        if (x.dim() == 0) {
            Tensor out = b.empty(x.dtype());
            ElementwiseKernels.copy(b, out, x);
            return out;
        }
        int last = x.dim() - 1;
        Tensor rows = b.contiguous(dim == last ? x : x.transpose(dim, last));
        int n = rows.size(-1);
        int count = n == 0 ? 0 : rows.numel() / n;
        Tensor out = b.empty(x.dtype(), rows.shape());
        if (count > 0) {
            int warps = CudaBackend.THREADS / 32;
            b.launch(MODULE, "cumsum_" + CudaBackend.suffix(x.dtype()), CudaBackend.gridFor(count, warps),
                    CudaBackend.THREADS, 0,
                    new KernelArgs().pointer(b.address(out)).pointer(b.address(rows)).i32(count).i32(n));
        }
        return dim == last ? out : b.contiguous(out.transpose(dim, last));
    }

    static int[] shapeWith(int[] shape, int dim, int size) {
        int[] s = Arrays.copyOf(shape, shape.length);
        s[dim] = size;
        return s;
    }
}
