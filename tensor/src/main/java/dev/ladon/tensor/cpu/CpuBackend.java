package dev.ladon.tensor.cpu;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Storage;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.backend.Backend;
import dev.ladon.tensor.backend.BinaryOp;
import dev.ladon.tensor.backend.RandomDistribution;
import dev.ladon.tensor.backend.ReduceOp;
import dev.ladon.tensor.backend.UnaryOp;

/**
 * The CPU backend: routes each SPI call to the kernel class of its family (one file per family, so
 * "where is softmax on the CPU?" has one answer: {@link ReduceKernels}).
 */
public final class CpuBackend implements Backend {
    static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {
    }

    /** A new zero-filled contiguous CPU tensor. */
    Tensor newTensor(DType dtype, int... shape) {
        return Tensor.wrap(new CpuStorage(dtype, Shape.numel(shape)), shape);
    }

    /**
     * A new contiguous CPU tensor for a kernel that writes every one of its elements: memory reused from a
     * {@link dev.ladon.tensor.Workspace} scope keeps its old values instead of being zero-filled first.
     */
    Tensor newOutput(DType dtype, int... shape) {
        return newTensor(dtype, shape, false);
    }

    private Tensor newTensor(DType dtype, int[] shape, boolean zeroFilled) {
        return Tensor.wrap(new CpuStorage(dtype, Shape.numel(shape), zeroFilled), shape);
    }

    /**
     * A new zero-filled CPU tensor of {@code shape} (same rank as {@code like}) whose dims lie in memory in the
     * order of like's dims (PyTorch's preserve_format). When like is a permutation of a dense tensor, such as
     * heads split off a projection ([B, T, H, D] seen as [B, H, T, D]), the result is the same permutation of
     * a dense tensor, so it flows back through the permute as a contiguous tensor, with no copy. Any other
     * like (broadcast, sliced) gives a contiguous result.
     */
    Tensor newTensorLike(DType dtype, int[] shape, Tensor like) {
        return newTensorLike(dtype, shape, like, true);
    }

    /** {@link #newTensorLike} for a kernel that writes every element (see {@link #newOutput}). */
    Tensor newOutputLike(DType dtype, int[] shape, Tensor like) {
        return newTensorLike(dtype, shape, like, false, false);
    }

    /**
     * {@link #newTensorLike}, but like may also be a slice whose dims have distinct positive strides: the result
     * is dense in the order of those strides. Attention takes its output's and gradients' layout from q this
     * way, so heads that are a slice of a fused Q, K and V projection ([B, T, 3, H, D] seen as [B, H, T, D])
     * still give an output that merges back into [B, T, H D] without a copy.
     */
    Tensor newTensorInOrderOf(DType dtype, int[] shape, Tensor like) {
        return newTensorLike(dtype, shape, like, true, true);
    }

    private Tensor newTensorLike(DType dtype, int[] shape, Tensor like, boolean zeroFilled) {
        return newTensorLike(dtype, shape, like, zeroFilled, false);
    }

    private Tensor newTensorLike(DType dtype, int[] shape, Tensor like, boolean zeroFilled, boolean orderOnly) {
        int rank = shape.length;
        if (like.dim() != rank) {
            return newTensor(dtype, shape, zeroFilled);
        }
        // Dims outermost first: size-1 dims (their strides mean nothing), then the others by decreasing stride.
        java.util.List<Integer> order = new java.util.ArrayList<>();
        java.util.List<Integer> spread = new java.util.ArrayList<>();
        for (int d = 0; d < rank; d++) {
            if (like.size(d) == 1 && shape[d] != 1) {
                return newTensor(dtype, shape, zeroFilled);
            }
            (like.size(d) == 1 ? order : spread).add(d);
        }
        spread.sort((x, y) -> Integer.compare(like.stride(y), like.stride(x)));
        order.addAll(spread);
        int dense = 1;
        int previous = 0;
        for (int i = rank - 1; i >= order.size() - spread.size(); i--) {
            int d = order.get(i);
            boolean fits = orderOnly ? like.stride(d) > previous : like.stride(d) == dense;
            if (!fits) {
                return newTensor(dtype, shape, zeroFilled);
            }
            previous = like.stride(d);
            dense *= like.size(d);
        }
        int[] strides = new int[rank];
        int step = 1;
        for (int i = rank - 1; i >= 0; i--) {
            strides[order.get(i)] = step;
            step *= shape[order.get(i)];
        }
        return Tensor.asStrided(new CpuStorage(dtype, Shape.numel(shape), zeroFilled), shape, strides, 0);
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Storage allocate(DType dtype, int size) {
        return new CpuStorage(dtype, size);
    }

    @Override
    public Storage fromHost(DType dtype, Object hostArray) {
        Object copy = switch (dtype) {
            case FLOAT32 -> ((float[]) hostArray).clone();
            case FLOAT64 -> ((double[]) hostArray).clone();
            case INT32 -> ((int[]) hostArray).clone();
            case INT64 -> ((long[]) hostArray).clone();
            case BOOL -> ((byte[]) hostArray).clone();
        };
        return new CpuStorage(dtype, copy, java.lang.reflect.Array.getLength(copy));
    }

    @Override
    public Object toHost(Tensor t) {
        Tensor c = t.contiguous();
        CpuStorage s = (CpuStorage) c.storage();
        Object out = CpuStorage.newArray(t.dtype(), t.numel());
        System.arraycopy(s.array(), c.offset(), out, 0, t.numel());
        return out;
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        ElementwiseKernels.copy(dst, src);
    }

    @Override
    public void fill(Tensor dst, double value) {
        ElementwiseKernels.fill(dst, value);
    }

    @Override
    public void random(Tensor dst, RandomDistribution distribution, long seed, long offset, double a, double b) {
        RandomKernels.random(dst, distribution, seed, offset, a, b);
    }

    @Override
    public void dropoutMask(Tensor dst, long seed, long offset, double keep) {
        // (A keep probability that rounds to 0 in float32 gives NaN through the composition; leave it to that.)
        if (dst.dtype() == DType.FLOAT32 && dst.isContiguous() && RandomKernels.hasVectorPath() && (float) keep > 0) {
            RandomKernels.dropoutMask(dst, seed, offset, keep);
        } else {
            Backend.super.dropoutMask(dst, seed, offset, keep);
        }
    }

    @Override
    public Tensor unary(UnaryOp op, Tensor x, double parameter) {
        return ElementwiseKernels.unary(op, x, parameter);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType resultType) {
        return ElementwiseKernels.binary(op, a, b, resultType);
    }

    @Override
    public void binaryInPlace(BinaryOp op, Tensor dst, Tensor src) {
        ElementwiseKernels.binaryInPlace(op, dst, src);
    }

    @Override
    public Tensor where(Tensor condition, Tensor a, Tensor b) {
        return ElementwiseKernels.where(condition, a, b);
    }

    @Override
    public Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepDim) {
        return ReduceKernels.reduce(op, x, dims, keepDim);
    }

    @Override
    public Tensor softmax(Tensor x, int dim, boolean log) {
        return ReduceKernels.softmax(x, dim, log);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor gradY, int dim, boolean log) {
        return ReduceKernels.softmaxBackward(y, gradY, dim, log);
    }

    @Override
    public Tensor cumsum(Tensor x, int dim) {
        return ReduceKernels.cumsum(x, dim);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return MatmulKernels.matmul(a, b);
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean relu) {
        // float64 is for gradient checks: the composition is fast enough there.
        return x.dtype() == DType.FLOAT32 && x.size(1) > 0 ? MatmulKernels.linear(x, weight, bias, relu)
                : Backend.super.linear(x, weight, bias, relu);
    }

    @Override
    public Tensor[] linearBackward(Tensor grad, Tensor x, Tensor weight, boolean needInput, boolean needWeight,
            boolean needBias, boolean reluInput) {
        return grad.dtype() == DType.FLOAT32 && grad.numel() > 0 && x.size(1) > 0
                ? MatmulKernels.linearBackward(grad, x, weight, needInput, needWeight, needBias, reluInput)
                : Backend.super.linearBackward(grad, x, weight, needInput, needWeight, needBias, reluInput);
    }

    @Override
    public Tensor gather(Tensor x, int dim, Tensor index) {
        return IndexKernels.gather(x, dim, index);
    }

    @Override
    public Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        return IndexKernels.scatterAdd(x, dim, index, src);
    }

    @Override
    public Tensor indexSelect(Tensor x, int dim, Tensor index) {
        return IndexKernels.indexSelect(x, dim, index);
    }

    @Override
    public Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        return IndexKernels.indexAdd(x, dim, index, src);
    }

    @Override
    public Tensor[] topk(Tensor x, int k, int dim, boolean largest) {
        return SortKernels.topk(x, k, dim, largest);
    }

    @Override
    public Tensor[] sort(Tensor x, int dim, boolean descending) {
        return SortKernels.sort(x, dim, descending);
    }

    @Override
    public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return NormKernels.layerNorm(x, weight, bias, eps);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd) {
        return NormKernels.layerNormBackward(gradY, x, weight, mean, rstd);
    }

    @Override
    public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) {
        return NormKernels.rmsNorm(x, weight, eps);
    }

    @Override
    public Tensor[] rmsNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor rstd) {
        return NormKernels.rmsNormBackward(gradY, x, weight, rstd);
    }

    @Override
    public Tensor[] crossEntropy(Tensor logits, Tensor target, int ignoreIndex, double labelSmoothing) {
        return NormKernels.crossEntropy(logits, target, ignoreIndex, labelSmoothing);
    }

    @Override
    public Tensor crossEntropyBackward(Tensor gradLoss, Tensor logits, Tensor target, Tensor logSumExp,
            int ignoreIndex, double labelSmoothing) {
        return NormKernels.crossEntropyBackward(gradLoss, logits, target, logSumExp, ignoreIndex, labelSmoothing);
    }

    @Override
    public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        return AttentionKernels.forward(q, k, v, rel, scale, causal);
    }

    @Override
    public Tensor[] attentionBackward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, Tensor out,
            Tensor logSumExp, double scale, boolean causal) {
        return AttentionKernels.backward(gradOut, q, k, v, rel, out, logSumExp, scale, causal);
    }

    @Override
    public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor rel, FusedOps.AttentionRotation rotation,
            double scale, boolean causal) {
        // The float32 kernel rotates query and key blocks as it reads them; float64 (gradient checks) and the
        // relative term take the composition.
        return rotation == null || (q.dtype() == DType.FLOAT32 && rel == null)
                ? AttentionKernels.forward(q, k, v, rel, rotation, scale, causal)
                : Backend.super.attention(q, k, v, rel, rotation, scale, causal);
    }

    @Override
    public Tensor[] attentionBackward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel,
            FusedOps.AttentionRotation rotation, Tensor out, Tensor logSumExp, double scale, boolean causal) {
        return rotation == null || (q.dtype() == DType.FLOAT32 && rel == null)
                ? AttentionKernels.backward(gradOut, q, k, v, rel, rotation, out, logSumExp, scale, causal)
                : Backend.super.attentionBackward(gradOut, q, k, v, rel, rotation, out, logSumExp, scale, causal);
    }

    @Override
    public void attentionBackwardInto(Tensor gradOut, Tensor q, Tensor k, Tensor v, FusedOps.AttentionRotation rotation,
            Tensor out, Tensor logSumExp, double scale, boolean causal, Tensor dq, Tensor dk, Tensor dv) {
        boolean rowsContiguous = dq.stride(-1) == 1 && dk.stride(-1) == 1 && dv.stride(-1) == 1;
        if (q.dtype() == DType.FLOAT32 && rowsContiguous) {
            AttentionKernels.backward(gradOut, q, k, v, null, rotation, out, logSumExp, scale, causal,
                    new Tensor[] {dq, dk, dv});
        } else {
            Backend.super.attentionBackwardInto(gradOut, q, k, v, rotation, out, logSumExp, scale, causal, dq, dk, dv);
        }
    }

    @Override
    public Tensor rotary(Tensor x, Tensor cos, Tensor sin) {
        return RotaryKernels.rotary(x, cos, sin);
    }

    @Override
    public Tensor reluBackward(Tensor grad, Tensor output) {
        // float64 is for gradient checks: the composition is fast enough there.
        return grad.dtype() == DType.FLOAT32 ? ElementwiseKernels.reluBackward(grad, output)
                : Backend.super.reluBackward(grad, output);
    }

    @Override
    public Tensor groupedMatmul(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        return GroupedMatmulKernels.forward(x, weight, row, expert, gate);
    }

    @Override
    public Tensor[] groupedMatmulBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert,
            Tensor gate) {
        return GroupedMatmulKernels.backward(gradOut, x, weight, row, expert, gate);
    }

    @Override
    public void adamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
            double eps, double weightDecay, long step) {
        OptimizerKernels.adamW(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step);
    }
}
