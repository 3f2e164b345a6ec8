package dev.ladon.tensor.backend;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Storage;
import dev.ladon.tensor.Tensor;

/**
 * The kernels of one device. {@link Tensor} checks arguments (shapes, dtypes, devices, dims) and resolves
 * broadcasting into stride-0 views before it calls here, so a backend may trust its inputs' shapes. Inputs
 * may be arbitrary strided views (transposed, sliced, expanded); results are new contiguous tensors unless
 * a method says otherwise. Index values are data and are checked by the kernels, which report the op,
 * the bad index and the valid range.
 *
 * <p>Integer index inputs may be int32 or int64; index outputs are int64.
 */
public interface Backend {
    Device device();

    // ---- storage and transfers -------------------------------------------------------------------

    /** A zero-filled storage of {@code size} elements. */
    Storage allocate(DType dtype, int size);

    /** A storage holding a copy of a host array: float[], double[], int[], long[] or byte[] (bool). */
    Storage fromHost(DType dtype, Object hostArray);

    /** The elements of {@code t} in row-major order as a new host array of its dtype (see {@link #fromHost}). */
    Object toHost(Tensor t);

    // ---- data movement ---------------------------------------------------------------------------

    /** dst[i] = src[i] for every index; same shapes (src may be a broadcast view); casts between dtypes. */
    void copy(Tensor dst, Tensor src);

    /** Every element of dst (possibly a strided view) becomes {@code value}. */
    void fill(Tensor dst, double value);

    /**
     * Fills contiguous {@code dst} from the counter-based stream: element i is drawn from Philox block
     * {@code (seed, offset + i)}, so results do not depend on threads or device.
     */
    void random(Tensor dst, RandomDistribution distribution, long seed, long offset, double a, double b);

    // ---- elementwise -----------------------------------------------------------------------------

    Tensor unary(UnaryOp op, Tensor x, double parameter);

    /** a and b have the same shape and dtype; the result has {@code resultType} (BOOL for comparisons). */
    Tensor binary(BinaryOp op, Tensor a, Tensor b, DType resultType);

    /** dst = dst op src, in place; src has dst's shape (possibly a broadcast view) and dtype. */
    void binaryInPlace(BinaryOp op, Tensor dst, Tensor src);

    /** cond ? a : b; all three the same shape, a and b the same dtype, cond BOOL. */
    Tensor where(Tensor condition, Tensor a, Tensor b);

    // ---- reductions and scans --------------------------------------------------------------------

    /** Reduces the (sorted, distinct) {@code dims}; keeps them as size 1 when {@code keepDim}. */
    Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepDim);

    Tensor softmax(Tensor x, int dim, boolean log);

    /** Gradient of softmax (or log-softmax when {@code log}) given its output y and dL/dy. */
    Tensor softmaxBackward(Tensor y, Tensor gradY, int dim, boolean log);

    Tensor cumsum(Tensor x, int dim);

    // ---- linear algebra --------------------------------------------------------------------------

    /** a: [..., M, K] @ b: [..., K, N] with identical batch dims (broadcast already applied as views). */
    Tensor matmul(Tensor a, Tensor b);

    // ---- indexing --------------------------------------------------------------------------------

    /** out[..., i, ...] = x[..., index[..., i, ...], ...] along dim; index has out's shape. */
    Tensor gather(Tensor x, int dim, Tensor index);

    /** A copy of x with src[..., i, ...] added at x[..., index[..., i, ...], ...] along dim. */
    Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src);

    /** Slices of x along dim picked by a 1-D index. */
    Tensor indexSelect(Tensor x, int dim, Tensor index);

    /** A copy of x with slice j of src added to slice index[j] along dim. */
    Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src);

    /** [values, int64 indices] of the k largest (or smallest) along dim; ties keep the lower index first. */
    Tensor[] topk(Tensor x, int k, int dim, boolean largest);

    /** [values, int64 indices], a stable sort along dim. */
    Tensor[] sort(Tensor x, int dim, boolean descending);

    // ---- fused kernels for the layers above ------------------------------------------------------

    /** Over the last dim: [y, mean, rstd]; weight and bias may be null. mean/rstd have x's shape minus the last dim. */
    Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps);

    /** [dx, dweight, dbias] (the last two null when weight is null). */
    Tensor[] layerNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor mean, Tensor rstd);

    /** Over the last dim: [y, rstd]; weight may be null. */
    Tensor[] rmsNorm(Tensor x, Tensor weight, double eps);

    /** [dx, dweight] (dweight null when weight is null). */
    Tensor[] rmsNormBackward(Tensor gradY, Tensor x, Tensor weight, Tensor rstd);

    /**
     * logits [N, C], target [N] (int): [loss per row (0 where target == ignoreIndex), logsumexp per row].
     * With label smoothing s the target distribution is (1-s) one-hot + s/C.
     */
    Tensor[] crossEntropy(Tensor logits, Tensor target, int ignoreIndex, double labelSmoothing);

    /** d(loss)/d(logits) given dL/d(loss per row) [N] and the logsumexp from the forward. */
    Tensor crossEntropyBackward(Tensor gradLoss, Tensor logits, Tensor target, Tensor logSumExp, int ignoreIndex,
            double labelSmoothing);

    // ---- attention (used by nn) ------------------------------------------------------------------

    /**
     * Fused scaled-dot-product attention with an online softmax; no [Tq, Tk] matrix is kept.
     * q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv] (any of them may be broadcast views).
     * Score(i, j) = scale * (q_i . k_j + q_i . rel[h, j - i + Tq - 1]) where {@code rel} (null for none) is
     * [H, Tk, D] and indexes the relative distance of key j to query i, the Transformer-XL term; it
     * requires {@code causal}. Query i sits at position Tk - Tq + i, so row Delta + Tk - 1 of rel holds the
     * distance Delta = key position - query position, from -(Tk - 1) (row 0) to 0 (row Tk - 1). Causal: key j is visible from query i iff j &lt;= i + (Tk - Tq), so with
     * Tk &gt; Tq the first Tk - Tq keys are a memory every query sees.
     * Returns [out [B, H, Tq, Dv], logSumExp [B, H, Tq]] in the dtype of q; out may be laid out in q's dim
     * order instead of contiguously (e.g. [B, Tq, H, Dv] in memory for heads split off a projection).
     */
    Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal);

    /**
     * [dq, dk, dv, drel] (drel null when rel is null), full-shaped (not reduced over broadcast dims); dq, dk
     * and dv may be laid out in the dim order of q, k and v instead of contiguously.
     */
    Tensor[] attentionBackward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel, Tensor out,
            Tensor logSumExp, double scale, boolean causal);

    /**
     * {@link #attention(Tensor, Tensor, Tensor, Tensor, double, boolean)} of q and k rotated by {@code rotation}
     * (null for none; see {@link FusedOps.AttentionRotation}). The default rotates them with {@link #rotary}
     * first; a backend may rotate inside its kernel instead, so the rotated q and k are never written out.
     */
    default Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor rel, FusedOps.AttentionRotation rotation,
            double scale, boolean causal) {
        if (rotation == null) {
            return attention(q, k, v, rel, scale, causal);
        }
        return attention(rotary(q, rotation.queryCos(), rotation.querySin()),
                rotary(k, rotation.keyCos(), rotation.keySin()), v, rel, scale, causal);
    }

    /**
     * The backward of {@link #attention(Tensor, Tensor, Tensor, Tensor, FusedOps.AttentionRotation, double,
     * boolean)}: [dq, dk, dv, drel] with respect to the unrotated q and k. The default rotates q and k again,
     * runs the plain backward and turns dq and dk back (the rotation with -sin).
     */
    default Tensor[] attentionBackward(Tensor gradOut, Tensor q, Tensor k, Tensor v, Tensor rel,
            FusedOps.AttentionRotation rotation, Tensor out, Tensor logSumExp, double scale, boolean causal) {
        if (rotation == null) {
            return attentionBackward(gradOut, q, k, v, rel, out, logSumExp, scale, causal);
        }
        Tensor[] grads = attentionBackward(gradOut, rotary(q, rotation.queryCos(), rotation.querySin()),
                rotary(k, rotation.keyCos(), rotation.keySin()), v, rel, out, logSumExp, scale, causal);
        grads[0] = rotary(grads[0], rotation.queryCos(), rotation.querySin().neg());
        grads[1] = rotary(grads[1], rotation.keyCos(), rotation.keySin().neg());
        return grads;
    }

    /**
     * The backward of attention without the relative term, with dq, dk and dv written into the given tensors
     * (shaped as q, k and v, holding zeros on entry), for a caller that wants them in one buffer, such as the
     * three slices of a fused Q, K and V projection's gradient. The default computes them and copies them in.
     */
    default void attentionBackwardInto(Tensor gradOut, Tensor q, Tensor k, Tensor v, FusedOps.AttentionRotation rotation,
            Tensor out, Tensor logSumExp, double scale, boolean causal, Tensor dq, Tensor dk, Tensor dv) {
        Tensor[] grads = attentionBackward(gradOut, q, k, v, null, rotation, out, logSumExp, scale, causal);
        copy(dq, grads[0]);
        copy(dk, grads[1]);
        copy(dv, grads[2]);
    }

    /**
     * Rotary position embedding, rotate-half layout: x [..., T, D], cos and sin [T, n/2] with n &lt;= D. For
     * c &lt; n/2 the channels (c, c + n/2) of the row at position t become
     * (x_c cos[t, c] - x_{c+n/2} sin[t, c], x_{c+n/2} cos[t, c] + x_c sin[t, c]); channels n.. are copied.
     * The backward is the same op with -sin (the inverse rotation). The result may be laid out in x's dim
     * order instead of contiguously. The default composes it from views, products and a cat; a backend
     * overrides it with one pass.
     */
    default Tensor rotary(Tensor x, Tensor cos, Tensor sin) {
        int last = x.dim() - 1;
        int half = cos.size(1);
        Tensor x1 = x.narrow(last, 0, half);
        Tensor x2 = x.narrow(last, half, half);
        Tensor r1 = x1.mul(cos).sub(x2.mul(sin));
        Tensor r2 = x2.mul(cos).add(x1.mul(sin));
        if (2 * half == x.size(last)) {
            return Tensor.cat(java.util.List.of(r1, r2), last);
        }
        return Tensor.cat(java.util.List.of(r1, r2, x.narrow(last, 2 * half, x.size(last) - 2 * half)), last);
    }

    /**
     * Inverted dropout's mask: element i of dst is 1 / keep where the uniform draw of block (seed, offset + i)
     * is below keep, else 0, all in dst's floating dtype: exactly uniform [0, 1) into dst's dtype, then
     * {@code lt(keep)}, {@code to(dtype)} and {@code div(keep)}. The default composes those four passes; a
     * backend overrides it with one.
     */
    default void dropoutMask(Tensor dst, long seed, long offset, double keep) {
        Tensor u = Tensor.empty(dst.dtype(), dst.device(), dst.shape());
        random(u, RandomDistribution.UNIFORM, seed, offset, 0, 1);
        copy(dst, u.lt(keep).to(dst.dtype()).div(keep));
    }

    /**
     * A linear layer's product with its bias and optional ReLU: x [N, in] W^T, plus bias [out] on every row
     * when bias is not null, then max(y, 0) when relu; weight [out, in]; same dtype and device throughout.
     * Returns a new [N, out]. The default composes the product, an in-place bias add and an in-place ReLU
     * (three passes over the output); a backend overrides it to finish each block of the product in cache.
     */
    default Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean relu) {
        Tensor y = matmul(x, weight.mT());
        if (bias != null) {
            y.addInPlace(bias);
        }
        return relu ? y.reluInPlace() : y;
    }

    /**
     * The gradients of a linear layer y = x W^T + b from grad = dL/dy [N, out], with x [N, in] and weight
     * [out, in]: {dx [N, in], dW [out, in], db [out]}, each null unless asked for. dx = grad W, dW = grad^T x,
     * db = the column sums of grad. When reluInput, x is a ReLU's output and dx is the gradient of that ReLU's
     * input: grad W where x &gt; 0, else 0 (as {@link #reluBackward}). Same dtype and device throughout. The
     * default composes the products, the ReLU backward and a sum; a backend overrides it to mask dx as its
     * product finishes and to sum db inside the product that reads grad for dW.
     */
    default Tensor[] linearBackward(Tensor grad, Tensor x, Tensor weight, boolean needInput, boolean needWeight,
            boolean needBias, boolean reluInput) {
        Tensor dx = null;
        if (needInput) {
            dx = matmul(grad, weight);
            if (reluInput) {
                dx = reluBackward(dx, x);
            }
        }
        return new Tensor[] {dx, needWeight ? matmul(grad.mT(), x) : null, needBias ? grad.sum(0) : null};
    }

    /**
     * ReLU's backward from its output: grad where output &gt; 0, else 0 (also where output is NaN). grad and
     * output share shape and dtype. The default is a comparison and a select, two passes and a mask; a
     * backend overrides it with one pass.
     */
    default Tensor reluBackward(Tensor grad, Tensor output) {
        return Tensor.where(output.gt(0.0), grad, Tensor.zeros(grad.dtype(), grad.device()));
    }

    // ---- mixture-of-experts routing (used by moe) ------------------------------------------------

    /**
     * The compacted expert matmul: for each (row, expert) pair p,
     * out[p] = gate[p] * (x[row[p]] @ weight[expert[p]]). x [N, Din], weight [E, Din, Dout],
     * row [P] and expert [P] (int), gate [P] or null (then 1). Returns out [P, Dout]. Cost is
     * proportional to P, never to E.
     */
    Tensor groupedMatmul(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate);

    /**
     * Backward of {@link #groupedMatmul}: [dx [N, Din], dweight [E, Din, Dout], dgate [P] (null when gate
     * is null)] given dL/dout [P, Dout].
     */
    Tensor[] groupedMatmulBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate);

    // ---- optimizers ------------------------------------------------------------------------------

    /**
     * One AdamW step in place on contiguous same-shaped param, expAvg, expAvgSq (grad may be any view):
     * decoupled weight decay, bias correction with {@code step} (1-based).
     */
    void adamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
            double eps, double weightDecay, long step);
}
