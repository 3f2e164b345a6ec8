package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * Gather, scatter-add, index-select and index-add. Index values are data, so they are checked here, with
 * the op, the bad value and the valid range in the message.
 *
 * <p>The gather/scatter walk uses a view of x whose stride along {@code dim} is 0: walking it together
 * with the index gives the offset of every element except along dim, which the index value supplies.
 */
final class IndexKernels {
    private IndexKernels() {
    }

    static long checkedIndex(String op, CpuStorage idx, int at, int size, int dim) {
        long v = idx.getLong(at);
        if (v < 0 || v >= size) {
            throw new IndexOutOfBoundsException(op + ": index " + v + " is out of range for dim " + dim + " of size "
                    + size);
        }
        return v;
    }

    private static Tensor withoutDim(Tensor x, int[] shape, int dim) {
        int[] st = x.strides();
        st[dim] = 0;
        return Tensor.asStrided(x.storage(), shape, st, x.offset());
    }

    static Tensor gather(Tensor x, int dim, Tensor index) {
        int[] shape = index.shape();
        Tensor out = CpuBackend.INSTANCE.newTensor(x.dtype(), shape);
        Tensor xv = withoutDim(x, shape, dim);
        StridedLoop loop = StridedLoop.over(shape, out, index, xv);
        CpuStorage os = ElementwiseKernels.storage(out);
        CpuStorage is = ElementwiseKernels.storage(index);
        CpuStorage xs = ElementwiseKernels.storage(x);
        int size = x.size(dim);
        int xstride = x.stride(dim);
        int so = loop.innerStride(0);
        int si = loop.innerStride(1);
        int sx = loop.innerStride(2);
        boolean f32 = x.dtype() == DType.FLOAT32;
        boolean integral = !x.dtype().isFloating();
        loop.forEach(0, loop.numel(), (off, len) -> {
            for (int i = 0; i < len; i++) {
                long v = checkedIndex("gather", is, off[1] + i * si, size, dim);
                int src = off[2] + i * sx + (int) v * xstride;
                if (f32) {
                    os.floats()[off[0] + i * so] = xs.floats()[src];
                } else if (integral) {
                    os.setLong(off[0] + i * so, xs.getLong(src));
                } else {
                    os.setDouble(off[0] + i * so, xs.getDouble(src));
                }
            }
        });
        return out;
    }

    static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        Tensor out = x.copy();
        int[] shape = index.shape();
        Tensor ov = withoutDim(out, shape, dim);
        StridedLoop loop = StridedLoop.over(shape, ov, index, src);
        CpuStorage os = ElementwiseKernels.storage(out);
        CpuStorage is = ElementwiseKernels.storage(index);
        CpuStorage ss = ElementwiseKernels.storage(src);
        int size = out.size(dim);
        int ostride = out.stride(dim);
        int so = loop.innerStride(0);
        int si = loop.innerStride(1);
        int sv = loop.innerStride(2);
        // Integer sums are taken in long: a double would round int64 values past 2^53.
        StridedLoop.SegmentBody add = x.dtype().isFloating()
                ? (off, len) -> {
                    for (int i = 0; i < len; i++) {
                        long v = checkedIndex("scatterAdd", is, off[1] + i * si, size, dim);
                        int dst = off[0] + i * so + (int) v * ostride;
                        os.setDouble(dst, os.getDouble(dst) + ss.getDouble(off[2] + i * sv));
                    }
                }
                : (off, len) -> {
                    for (int i = 0; i < len; i++) {
                        long v = checkedIndex("scatterAdd", is, off[1] + i * si, size, dim);
                        int dst = off[0] + i * so + (int) v * ostride;
                        os.setLong(dst, os.getLong(dst) + ss.getLong(off[2] + i * sv));
                    }
                };
        // Sequential on purpose: two index entries may name the same destination.
        loop.forEach(0, loop.numel(), add);
        return out;
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        int n = index.numel();
        int size = x.size(dim);
        int[] outShape = ReduceKernels.shapeWith(x.shape(), dim, n);
        Tensor out = CpuBackend.INSTANCE.newTensor(x.dtype(), outShape);
        CpuStorage is = ElementwiseKernels.storage(index);
        int[] picks = new int[n];
        for (int j = 0; j < n; j++) {
            picks[j] = (int) checkedIndex("indexSelect", is, index.offset() + j * (n > 1 ? index.stride(0) : 0), size, dim);
        }
        if (dim == 0 && x.isContiguous()) {
            // Rows are contiguous runs: one arraycopy per picked row (the embedding lookup).
            int row = x.numel() / Math.max(size, 1);
            Object src = ElementwiseKernels.storage(x).array();
            Object dst = ElementwiseKernels.storage(out).array();
            int xo = x.offset();
            Parallel.forRange(n, Math.max(1, 8192 / Math.max(row, 1)), (j0, j1) -> {
                for (int j = j0; j < j1; j++) {
                    System.arraycopy(src, xo + picks[j] * row, dst, j * row, row);
                }
            });
            return out;
        }
        for (int j = 0; j < n; j++) {
            ElementwiseKernels.copy(out.select(dim, j), x.select(dim, picks[j]));
        }
        return out;
    }

    static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        Tensor out = x.copy();
        int n = index.numel();
        int size = x.size(dim);
        CpuStorage is = ElementwiseKernels.storage(index);
        int[] picks = new int[n];
        for (int j = 0; j < n; j++) {
            picks[j] = (int) checkedIndex("indexAdd", is, index.offset() + j * (n > 1 ? index.stride(0) : 0), size, dim);
        }
        if (dim == 0 && out.dtype() == DType.FLOAT32 && src.isContiguous()) {
            // The embedding backward: add row j of src into row picks[j]. Rows are split by destination
            // across threads so that no two threads write one row.
            int row = out.numel() / Math.max(size, 1);
            float[] o = ElementwiseKernels.floats(out);
            float[] s = ElementwiseKernels.floats(src);
            int so = src.offset();
            Parallel.forRange(row, 64, (c0, c1) -> {
                for (int j = 0; j < n; j++) {
                    int dst = picks[j] * row;
                    int from = so + j * row;
                    for (int c = c0; c < c1; c++) {
                        o[dst + c] += s[from + c];
                    }
                }
            });
            return out;
        }
        for (int j = 0; j < n; j++) {
            ElementwiseKernels.binaryInPlace(dev.ladon.tensor.backend.BinaryOp.ADD, out.select(dim, picks[j]),
                    src.select(dim, j));
        }
        return out;
    }

    static String describe(Tensor t) {
        return Shape.str(t.shape()) + " " + t.dtype();
    }
}
