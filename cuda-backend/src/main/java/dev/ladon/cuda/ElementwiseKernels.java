package dev.ladon.cuda;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.UnaryOp;

/** Launches the kernels of {@code elementwise.cu}: fill, copy with casts, unary, binary, compare, where. */
final class ElementwiseKernels {
    static final String MODULE = "elementwise";

    private ElementwiseKernels() {
    }

    static void fill(CudaBackend b, Tensor dst, double value) {
        b.walk(MODULE, "fill_" + CudaBackend.suffix(dst.dtype()), dst.shape(), new Tensor[] {dst}, a -> a.f64(value));
    }

    /**
     * dst = src (same shape; src may be a broadcast view); casts as the CPU backend does: floats through
     * double, integers as integers.
     */
    static void copy(CudaBackend b, Tensor dst, Tensor src) {
        if (dst.dtype() == src.dtype() && dst.isContiguous() && src.isContiguous()) {
            b.driver().copyDeviceToDevice(b.address(dst), b.address(src), (long) dst.numel() * dst.dtype().byteSize());
            return;
        }
        String kernel = "copy_" + CudaBackend.suffix(src.dtype()) + "_" + CudaBackend.suffix(dst.dtype());
        b.walk(MODULE, kernel, dst.shape(), new Tensor[] {dst, src}, a -> {
        });
    }

    static Tensor unary(CudaBackend b, UnaryOp op, Tensor x, double p) {
        Tensor out = b.empty(x.dtype(), x.shape());
        b.walk(MODULE, "unary_" + CudaBackend.suffix(x.dtype()), x.shape(), new Tensor[] {out, x},
                a -> a.i32(op.ordinal()).f64(p));
        return out;
    }

    static Tensor binary(CudaBackend b, BinaryOp op, Tensor x, Tensor y, DType resultType) {
        DType natural = op.isComparison() ? DType.BOOL : x.dtype();
        Tensor out = b.empty(natural, x.shape());
        String kernel = (op.isComparison() ? "compare_" : "binary_") + CudaBackend.suffix(x.dtype());
        b.walk(MODULE, kernel, x.shape(), new Tensor[] {out, x, y}, a -> a.i32(op.ordinal()));
        if (resultType == natural) {
            return out;
        }
        Tensor cast = b.empty(resultType, x.shape());
        copy(b, cast, out);
        return cast;
    }

    static void binaryInPlace(CudaBackend b, BinaryOp op, Tensor dst, Tensor src) {
        if (op.isComparison() || dst.dtype() != src.dtype()) {
            copy(b, dst, binary(b, op, dst, src, op.isComparison() ? DType.BOOL : dst.dtype()));
            return;
        }
        b.walk(MODULE, "binary_" + CudaBackend.suffix(dst.dtype()), dst.shape(), new Tensor[] {dst, dst, src},
                a -> a.i32(op.ordinal()));
    }

    static Tensor where(CudaBackend b, Tensor cond, Tensor x, Tensor y) {
        Tensor out = b.empty(x.dtype(), x.shape());
        b.walk(MODULE, "where_" + CudaBackend.suffix(x.dtype()), x.shape(), new Tensor[] {out, cond, x, y}, a -> {
        });
        return out;
    }
}
