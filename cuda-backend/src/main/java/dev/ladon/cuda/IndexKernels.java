package dev.ladon.cuda;

import dev.ladon.tensor.Tensor;

/**
 * Launches {@code index.cu}. Index-select and index-add reuse gather and scatter-add: the 1-D index is
 * viewed over the output (or source) shape with stride 0 in every dim but {@code dim}, which makes
 * out[..., j, ...] = x[..., index[j], ...] a gather. Bad indices are reported as {@link IndexErrors}
 * describes.
 */
final class IndexKernels {
    static final String MODULE = "index";

    private IndexKernels() {
    }

    /** x viewed over {@code shape} with stride 0 along dim: the gather/scatter walk adds index * stride(dim). */
    private static Tensor withoutDim(Tensor x, int[] shape, int dim) {
        int[] st = x.strides();
        st[dim] = 0;
        return Tensor.asStrided(x.storage(), shape, st, x.offset());
    }

    /** A 1-D index seen over {@code shape}, varying along dim only. */
    private static Tensor indexAlong(Tensor index, int[] shape, int dim) {
        int[] st = new int[shape.length];
        st[dim] = index.numel() > 1 ? index.stride(0) : 0;
        return Tensor.asStrided(index.storage(), shape, st, index.offset());
    }

    static Tensor gather(CudaBackend b, Tensor x, int dim, Tensor index) {
        return gatherAs(b, x, dim, index, IndexErrors.Op.GATHER);
    }

    private static Tensor gatherAs(CudaBackend b, Tensor x, int dim, Tensor index, IndexErrors.Op op) {
        int[] shape = index.shape();
        Tensor out = b.empty(x.dtype(), shape);
        if (out.numel() == 0) {
            return out;
        }
        int size = x.size(dim);
        int stride = x.stride(dim);
        String kernel = "gather_" + CudaBackend.suffix(x.dtype()) + "_" + CudaBackend.suffix(index.dtype());
        b.walk(MODULE, kernel, shape, new Tensor[] {out, index, withoutDim(x, shape, dim)},
                a -> a.i32(size).i32(stride).i32(dim).pointer(b.indexErrorAddress()).i32(op.ordinal()));
        b.afterIndexCheck();
        return out;
    }

    static Tensor scatterAdd(CudaBackend b, Tensor x, int dim, Tensor index, Tensor src) {
        return scatterAs(b, x, dim, index, src, IndexErrors.Op.SCATTER_ADD);
    }

    private static Tensor scatterAs(CudaBackend b, Tensor x, int dim, Tensor index, Tensor src, IndexErrors.Op op) {
        Tensor out = b.empty(x.dtype(), x.shape());
        ElementwiseKernels.copy(b, out, x);
        int[] shape = index.shape();
        if (index.numel() == 0) {
            return out;
        }
        int size = out.size(dim);
        int stride = out.stride(dim);
        String kernel = "scatter_add_" + CudaBackend.suffix(x.dtype()) + "_" + CudaBackend.suffix(index.dtype());
        b.walk(MODULE, kernel, shape, new Tensor[] {withoutDim(out, shape, dim), index, src},
                a -> a.i32(size).i32(stride).i32(dim).pointer(b.indexErrorAddress()).i32(op.ordinal()));
        b.afterIndexCheck();
        return out;
    }

    static Tensor indexSelect(CudaBackend b, Tensor x, int dim, Tensor index) {
        int[] outShape = ReduceKernels.shapeWith(x.shape(), dim, index.numel());
        return gatherAs(b, x, dim, indexAlong(index, outShape, dim), IndexErrors.Op.INDEX_SELECT);
    }

    static Tensor indexAdd(CudaBackend b, Tensor x, int dim, Tensor index, Tensor src) {
        return scatterAs(b, x, dim, indexAlong(index, src.shape(), dim), src, IndexErrors.Op.INDEX_ADD);
    }
}
