package dev.ladon.tensor;

import java.util.Arrays;

/**
 * The fused kernels that layers above need: layer norm, RMS norm, cross-entropy, attention, rotary position
 * embedding and the grouped expert matmul, each with its backward; the linear layer's product with bias (and
 * ReLU) and its backward; ReLU's backward; and the AdamW step. Arguments are checked here once (shapes,
 * dtypes, devices), then the device's backend runs the kernel. Forward results carry what backward needs.
 */
public final class FusedOps {
    private FusedOps() {
    }

    /** y, and the per-row mean and 1/std over the last dim. */
    public record LayerNormResult(Tensor output, Tensor mean, Tensor rstd) {
    }

    /** Layer norm over the last dim of x; weight and bias [D] or null. */
    public static LayerNormResult layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        checkNormArgs("layerNorm", x, weight, bias, eps);
        Tensor[] r = x.backend().layerNorm(x, weight, bias, eps);
        return new LayerNormResult(r[0], r[1], r[2]);
    }

    /** [dx, dweight, dbias] (the last two null when weight is null). */
    public static Tensor[] layerNormBackward(Tensor gradOutput, Tensor x, Tensor weight, LayerNormResult saved) {
        requireSameShape("layerNormBackward", gradOutput, x);
        return x.backend().layerNormBackward(gradOutput, x, weight, saved.mean(), saved.rstd());
    }

    /** y, and the per-row 1/rms over the last dim. */
    public record RmsNormResult(Tensor output, Tensor rstd) {
    }

    public static RmsNormResult rmsNorm(Tensor x, Tensor weight, double eps) {
        checkNormArgs("rmsNorm", x, weight, null, eps);
        Tensor[] r = x.backend().rmsNorm(x, weight, eps);
        return new RmsNormResult(r[0], r[1]);
    }

    /** [dx, dweight] (dweight null when weight is null). */
    public static Tensor[] rmsNormBackward(Tensor gradOutput, Tensor x, Tensor weight, RmsNormResult saved) {
        requireSameShape("rmsNormBackward", gradOutput, x);
        return x.backend().rmsNormBackward(gradOutput, x, weight, saved.rstd());
    }

    private static void checkNormArgs(String op, Tensor x, Tensor weight, Tensor bias, double eps) {
        Tensor.requireFloating(op, x);
        if (!(eps >= 0 && eps < Double.POSITIVE_INFINITY)) {
            // A negative eps makes a constant row's variance negative, and its square root NaN.
            throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps + " (input "
                    + Shape.str(x.shape()) + ")");
        }
        if (x.dim() == 0) {
            throw new IllegalArgumentException(op + ": needs at least 1 dim, got a 0-dim tensor");
        }
        int d = x.size(-1);
        for (Tensor p : new Tensor[] {weight, bias}) {
            if (p == null) {
                continue;
            }
            Tensor.requireSameDevice(op, x, p);
            if (p.dim() != 1 || p.size(0) != d || p.dtype() != x.dtype()) {
                throw new IllegalArgumentException(op + ": weight/bias must be [" + d + "] " + x.dtype() + " for input "
                        + Shape.str(x.shape()) + ", got " + Shape.str(p.shape()) + " " + p.dtype());
            }
        }
    }

    /** Per-row losses [N] (0 at ignored rows) and the logsumexp [N] that backward reuses. */
    public record CrossEntropyResult(Tensor losses, Tensor logSumExp) {
    }

    /**
     * Cross-entropy of logits [N, C] against int targets [N]; rows whose target is {@code ignoreIndex}
     * get loss 0. With label smoothing s the target distribution is (1 - s) one-hot + s / C.
     */
    public static CrossEntropyResult crossEntropy(Tensor logits, Tensor target, int ignoreIndex, double labelSmoothing) {
        Tensor.requireFloating("crossEntropy", logits);
        Tensor.requireIndex("crossEntropy", target);
        Tensor.requireSameDevice("crossEntropy", logits, target);
        if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0)) {
            throw new IllegalArgumentException("crossEntropy: expected logits [N, C] and target [N], got "
                    + Shape.str(logits.shape()) + " and " + Shape.str(target.shape()));
        }
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("crossEntropy: label smoothing must be in [0, 1], got " + labelSmoothing);
        }
        Tensor[] r = logits.backend().crossEntropy(logits, target, ignoreIndex, labelSmoothing);
        return new CrossEntropyResult(r[0], r[1]);
    }

    /** d(loss)/d(logits) given dL/d(per-row loss) [N] (or a scalar applied to every row). */
    public static Tensor crossEntropyBackward(Tensor gradLosses, Tensor logits, Tensor target, CrossEntropyResult saved,
            int ignoreIndex, double labelSmoothing) {
        Tensor.requireFloating("crossEntropyBackward", logits);
        Tensor.requireIndex("crossEntropyBackward", target);
        Tensor.requireSameDevice("crossEntropyBackward", gradLosses, logits, target, saved.logSumExp());
        if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0)
                || (gradLosses.numel() != 1 && !Arrays.equals(gradLosses.shape(), target.shape()))
                || !Arrays.equals(saved.logSumExp().shape(), target.shape())) {
            throw new IllegalArgumentException("crossEntropyBackward: expected logits [N, C], target [N], gradient [N] "
                    + "or one element and the forward's logsumexp [N], got logits " + Shape.str(logits.shape())
                    + ", target " + Shape.str(target.shape()) + ", gradient " + Shape.str(gradLosses.shape())
                    + ", logsumexp " + Shape.str(saved.logSumExp().shape()));
        }
        return logits.backend().crossEntropyBackward(gradLosses, logits, target, saved.logSumExp(), ignoreIndex,
                labelSmoothing);
    }

    /**
     * x [N, in] W^T + bias, then ReLU when {@code relu}: a linear layer's product finished in one pass (see
     * {@link dev.ladon.tensor.backend.Backend#linear}); weight [out, in], bias [out] or null. Returns a new
     * [N, out], equal to {@code x.matmul(weight.mT())}, then {@code addInPlace(bias)} and {@code reluInPlace()}.
     *
     * @throws IllegalArgumentException when the shapes do not fit, dtypes or devices differ, or x is not floating
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias, boolean relu) {
        if (bias == null) {
            Tensor.requireSameDevice("linear", x, weight);
        } else {
            Tensor.requireSameDevice("linear", x, weight, bias);
        }
        Tensor.requireFloating("linear", x);
        if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1)
                || (bias != null && (bias.dim() != 1 || bias.size(0) != weight.size(0)))) {
            throw new IllegalArgumentException("linear: expected x [N, in], weight [out, in] and bias [out] or none; got x "
                    + Shape.str(x.shape()) + ", weight " + Shape.str(weight.shape())
                    + (bias == null ? "" : ", bias " + Shape.str(bias.shape())));
        }
        if (weight.dtype() != x.dtype() || (bias != null && bias.dtype() != x.dtype())) {
            throw new IllegalArgumentException("linear: dtypes differ: x " + x.dtype() + ", weight " + weight.dtype()
                    + (bias == null ? "" : ", bias " + bias.dtype()));
        }
        return x.backend().linear(x, weight, bias, relu);
    }

    /** The gradients of {@link #linear}: each null unless asked for. */
    public record LinearGradients(Tensor input, Tensor weight, Tensor bias) {
    }

    /**
     * The gradients of y = x W^T + b from grad = dL/dy [N, out], for x [N, in] and weight [out, in] (see
     * {@link dev.ladon.tensor.backend.Backend#linearBackward}): the input's grad W, the weight's grad^T x and
     * the bias's column sums of grad, each only when asked for. With {@code reluInput}, x is the output of a
     * ReLU and the input gradient is that of the ReLU's input instead: grad W where x &gt; 0, else 0, as
     * {@link #reluBackward} of grad W would give. The CPU backend masks it as the product finishes and sums
     * the bias gradient inside the weight gradient's product.
     *
     * @throws IllegalArgumentException when the shapes do not fit, dtypes or devices differ, or grad is not floating
     */
    public static LinearGradients linearBackward(Tensor grad, Tensor x, Tensor weight, boolean needInput,
            boolean needWeight, boolean needBias, boolean reluInput) {
        Tensor.requireSameDevice("linearBackward", grad, x, weight);
        Tensor.requireFloating("linearBackward", grad);
        if (grad.dim() != 2 || x.dim() != 2 || weight.dim() != 2 || grad.size(0) != x.size(0)
                || grad.size(1) != weight.size(0) || x.size(1) != weight.size(1)) {
            throw new IllegalArgumentException("linearBackward: expected grad [N, out], x [N, in] and weight [out, in]; "
                    + "got grad " + Shape.str(grad.shape()) + ", x " + Shape.str(x.shape()) + ", weight "
                    + Shape.str(weight.shape()));
        }
        if (x.dtype() != grad.dtype() || weight.dtype() != grad.dtype()) {
            throw new IllegalArgumentException("linearBackward: dtypes differ: grad " + grad.dtype() + ", x " + x.dtype()
                    + ", weight " + weight.dtype());
        }
        Tensor[] g = grad.backend().linearBackward(grad, x, weight, needInput, needWeight, needBias, reluInput);
        return new LinearGradients(g[0], g[1], g[2]);
    }

    /** ReLU's backward from its output: grad where output &gt; 0, else 0. */
    public static Tensor reluBackward(Tensor grad, Tensor output) {
        Tensor.requireSameDevice("reluBackward", grad, output);
        Tensor.requireFloating("reluBackward", grad);
        requireSameShape("reluBackward", grad, output);
        if (grad.dtype() != output.dtype()) {
            throw new IllegalArgumentException("reluBackward: dtypes differ: gradient " + grad.dtype() + ", output "
                    + output.dtype());
        }
        return grad.backend().reluBackward(grad, output);
    }

    /** Attention output [B, H, Tq, Dv] and the per-row logsumexp [B, H, Tq] that backward reuses. */
    public record AttentionResult(Tensor output, Tensor logSumExp) {
    }

    /**
     * Fused scaled-dot-product attention; see {@link dev.ladon.tensor.backend.Backend#attention} for the
     * layout, the causal rule with memory keys, and the Transformer-XL relative term {@code rel} (or null).
     */
    public static AttentionResult attention(Tensor q, Tensor k, Tensor v, Tensor rel, double scale, boolean causal) {
        checkAttention(q, k, v, rel, causal);
        Tensor[] r = q.backend().attention(q, k, v, rel, scale, causal);
        return new AttentionResult(r[0], r[1]);
    }

    /** [dq, dk, dv, drel] (drel null without rel). */
    public static Tensor[] attentionBackward(Tensor gradOutput, Tensor q, Tensor k, Tensor v, Tensor rel,
            AttentionResult saved, double scale, boolean causal) {
        requireSameShape("attentionBackward", gradOutput, saved.output());
        return q.backend().attentionBackward(gradOutput, q, k, v, rel, saved.output(), saved.logSumExp(), scale, causal);
    }

    /**
     * Rotary position embedding applied to attention's queries and keys: cos and sin tables [Tq, n/2] for the
     * queries' positions and [Tk, n/2] for the keys', as {@link #rotary} takes them (channels (c, c + n/2)
     * rotated, the rest unchanged).
     */
    public record AttentionRotation(Tensor queryCos, Tensor querySin, Tensor keyCos, Tensor keySin) {
    }

    /**
     * Attention of the queries and keys rotated by {@code rotation}: the same as
     * {@code attention(rotary(q, queryCos, querySin), rotary(k, keyCos, keySin), v, rel, scale, causal)}, but a
     * backend may rotate inside its kernel, so that the rotated q and k are never written out (see
     * {@link dev.ladon.tensor.backend.Backend#attention(Tensor, Tensor, Tensor, Tensor, AttentionRotation, double,
     * boolean)}). rotation may be null.
     */
    public static AttentionResult attention(Tensor q, Tensor k, Tensor v, Tensor rel, AttentionRotation rotation,
            double scale, boolean causal) {
        checkAttention(q, k, v, rel, causal);
        checkRotation(q, k, rotation);
        Tensor[] r = q.backend().attention(q, k, v, rel, rotation, scale, causal);
        return new AttentionResult(r[0], r[1]);
    }

    /** [dq, dk, dv, drel] of {@link #attention(Tensor, Tensor, Tensor, Tensor, AttentionRotation, double, boolean)}. */
    public static Tensor[] attentionBackward(Tensor gradOutput, Tensor q, Tensor k, Tensor v, Tensor rel,
            AttentionRotation rotation, AttentionResult saved, double scale, boolean causal) {
        requireSameShape("attentionBackward", gradOutput, saved.output());
        checkRotation(q, k, rotation);
        return q.backend().attentionBackward(gradOutput, q, k, v, rel, rotation, saved.output(), saved.logSumExp(),
                scale, causal);
    }

    /**
     * {@link #attentionBackward(Tensor, Tensor, Tensor, Tensor, Tensor, AttentionRotation, AttentionResult, double,
     * boolean)} without the relative term, writing dq, dk and dv into the given tensors (shaped as q, k and v;
     * they must hold zeros), e.g. three views of one buffer.
     *
     * @throws IllegalArgumentException when a destination's shape, dtype or device does not match its operand
     */
    public static void attentionBackwardInto(Tensor gradOutput, Tensor q, Tensor k, Tensor v, AttentionRotation rotation,
            AttentionResult saved, double scale, boolean causal, Tensor dq, Tensor dk, Tensor dv) {
        requireSameShape("attentionBackward", gradOutput, saved.output());
        checkRotation(q, k, rotation);
        Tensor.requireSameDevice("attentionBackward", q, dq, dk, dv);
        Tensor[] operands = {q, k, v};
        Tensor[] destinations = {dq, dk, dv};
        for (int i = 0; i < 3; i++) {
            if (!Arrays.equals(operands[i].shape(), destinations[i].shape())
                    || destinations[i].dtype() != operands[i].dtype()) {
                throw new IllegalArgumentException("attentionBackward: destination " + "qkv".charAt(i) + " is "
                        + Shape.str(destinations[i].shape()) + " " + destinations[i].dtype() + ", its operand "
                        + Shape.str(operands[i].shape()) + " " + operands[i].dtype());
            }
        }
        q.backend().attentionBackwardInto(gradOutput, q, k, v, rotation, saved.output(), saved.logSumExp(), scale, causal,
                dq, dk, dv);
    }

    private static void checkRotation(Tensor q, Tensor k, AttentionRotation rotation) {
        if (rotation == null) {
            return;
        }
        Tensor qc = rotation.queryCos();
        Tensor qs = rotation.querySin();
        Tensor kc = rotation.keyCos();
        Tensor ks = rotation.keySin();
        Tensor.requireSameDevice("attention", q, qc, qs, kc, ks);
        boolean fits = qc.dim() == 2 && kc.dim() == 2 && Arrays.equals(qc.shape(), qs.shape())
                && Arrays.equals(kc.shape(), ks.shape()) && qc.size(0) == q.size(2) && kc.size(0) == k.size(2)
                && qc.size(1) == kc.size(1) && 2 * qc.size(1) <= q.size(3) && q.size(3) == k.size(3);
        if (!fits) {
            throw new IllegalArgumentException("attention: the rotation's tables must be [Tq, n/2] and [Tk, n/2] with "
                    + "n <= D; got query cos " + Shape.str(qc.shape()) + ", sin " + Shape.str(qs.shape()) + ", key cos "
                    + Shape.str(kc.shape()) + ", sin " + Shape.str(ks.shape()) + " for q " + Shape.str(q.shape()) + ", k "
                    + Shape.str(k.shape()));
        }
        for (Tensor t : new Tensor[] {qc, qs, kc, ks}) {
            if (t.dtype() != q.dtype()) {
                throw new IllegalArgumentException("attention: the rotation's tables are " + t.dtype() + ", q is "
                        + q.dtype());
            }
        }
    }

    /** The operands' shapes, for an error message. */
    private static String attentionShapes(Tensor q, Tensor k, Tensor v, Tensor rel) {
        return "q " + Shape.str(q.shape()) + ", k " + Shape.str(k.shape()) + ", v " + Shape.str(v.shape())
                + (rel == null ? "" : ", rel " + Shape.str(rel.shape()));
    }

    private static void checkAttention(Tensor q, Tensor k, Tensor v, Tensor rel, boolean causal) {
        if (rel == null) {
            Tensor.requireSameDevice("attention", q, k, v);
        } else {
            Tensor.requireSameDevice("attention", q, k, v, rel);
        }
        Tensor.requireFloating("attention", q);
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
            throw new IllegalArgumentException("attention: expected 4-D [B, H, T, D] tensors, got "
                    + attentionShapes(q, k, v, rel));
        }
        if (q.dtype() != k.dtype() || q.dtype() != v.dtype()) {
            throw new IllegalArgumentException("attention: dtypes differ: " + q.dtype() + ", " + k.dtype() + ", " + v.dtype());
        }
        int[] qs = q.shape();
        int[] ks = k.shape();
        int[] vs = v.shape();
        if (qs[0] != ks[0] || qs[0] != vs[0] || qs[1] != ks[1] || qs[1] != vs[1] || qs[3] != ks[3] || ks[2] != vs[2]) {
            throw new IllegalArgumentException("attention: incompatible shapes: " + attentionShapes(q, k, v, rel));
        }
        if (causal && ks[2] < qs[2]) {
            throw new IllegalArgumentException("attention: causal attention needs at least as many keys as queries: "
                    + attentionShapes(q, k, v, rel));
        }
        if (rel != null) {
            if (!causal) {
                throw new IllegalArgumentException("attention: the relative position term needs causal attention");
            }
            if (rel.dim() != 3 || rel.size(0) != qs[1] || rel.size(1) != ks[2] || rel.size(2) != qs[3]
                    || rel.dtype() != q.dtype()) {
                throw new IllegalArgumentException("attention: rel must be [H, Tk, D] = [" + qs[1] + ", " + ks[2] + ", "
                        + qs[3] + "] " + q.dtype() + "; " + attentionShapes(q, k, v, rel));
            }
        }
    }

    /**
     * Rotary position embedding of x [..., T, D] with tables cos and sin [T, n/2] (n &lt;= D): channel pairs
     * (c, c + n/2) are rotated by the angle whose cosine and sine the tables hold for the row's position,
     * channels n.. pass unchanged (see {@link dev.ladon.tensor.backend.Backend#rotary}). The gradient with
     * respect to x is {@code rotary(grad, cos, sin.neg())}. Returns a new [..., T, D], contiguous or (on the
     * CPU, for a permuted dense x such as heads split off a projection) laid out in x's dim order.
     *
     * @throws IllegalArgumentException when x is not floating or below 2-D, the tables are not [T, n/2] with
     *                                  2 * (n/2) &lt;= D, or dtypes or devices differ
     */
    public static Tensor rotary(Tensor x, Tensor cos, Tensor sin) {
        Tensor.requireSameDevice("rotary", x, cos, sin);
        Tensor.requireFloating("rotary", x);
        if (x.dim() < 2 || cos.dim() != 2 || !Arrays.equals(cos.shape(), sin.shape()) || cos.size(0) != x.size(-2)
                || 2 * cos.size(1) > x.size(-1)) {
            throw new IllegalArgumentException("rotary: expected x [..., T, D] and cos, sin [T, n/2] with n <= D; got x "
                    + Shape.str(x.shape()) + ", cos " + Shape.str(cos.shape()) + ", sin " + Shape.str(sin.shape()));
        }
        if (cos.dtype() != x.dtype() || sin.dtype() != x.dtype()) {
            throw new IllegalArgumentException("rotary: dtypes differ: x " + x.dtype() + ", cos " + cos.dtype() + ", sin "
                    + sin.dtype());
        }
        return x.backend().rotary(x, cos, sin);
    }

    /**
     * out[p] = gate[p] * (x[row[p]] @ weight[expert[p]]) for each (row, expert) pair p; see
     * {@link dev.ladon.tensor.backend.Backend#groupedMatmul}. gate may be null.
     */
    public static Tensor groupedMatmul(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        checkGrouped(x, weight, row, expert, gate);
        return x.backend().groupedMatmul(x, weight, row, expert, gate);
    }

    /** [dx, dweight, dgate] (dgate null when gate is null). */
    public static Tensor[] groupedMatmulBackward(Tensor gradOutput, Tensor x, Tensor weight, Tensor row, Tensor expert,
            Tensor gate) {
        checkGrouped(x, weight, row, expert, gate);
        if (gradOutput.dim() != 2 || gradOutput.size(0) != row.numel() || gradOutput.size(1) != weight.size(2)) {
            throw new IllegalArgumentException("groupedMatmulBackward: gradient must be [" + row.numel() + ", "
                    + weight.size(2) + "], got " + Shape.str(gradOutput.shape()));
        }
        if (gradOutput.dtype() != x.dtype() || !gradOutput.device().equals(x.device())) {
            throw new IllegalArgumentException("groupedMatmulBackward: gradient is " + gradOutput.dtype() + " on "
                    + gradOutput.device() + ", x is " + x.dtype() + " on " + x.device());
        }
        return x.backend().groupedMatmulBackward(gradOutput, x, weight, row, expert, gate);
    }

    private static void checkGrouped(Tensor x, Tensor weight, Tensor row, Tensor expert, Tensor gate) {
        Tensor.requireFloating("groupedMatmul", x);
        Tensor.requireIndex("groupedMatmul", row);
        Tensor.requireIndex("groupedMatmul", expert);
        if (gate == null) {
            Tensor.requireSameDevice("groupedMatmul", x, weight, row, expert);
        } else {
            Tensor.requireSameDevice("groupedMatmul", x, weight, row, expert, gate);
        }
        if (x.dim() != 2 || weight.dim() != 3 || weight.size(1) != x.size(1) || row.dim() != 1
                || !Arrays.equals(row.shape(), expert.shape())
                || (gate != null && !Arrays.equals(gate.shape(), row.shape()))) {
            throw new IllegalArgumentException("groupedMatmul: expected x [N, Din], weight [E, Din, Dout], row/expert/gate "
                    + "[P]; got x " + Shape.str(x.shape()) + ", weight " + Shape.str(weight.shape()) + ", row "
                    + Shape.str(row.shape()) + ", expert " + Shape.str(expert.shape())
                    + (gate == null ? "" : ", gate " + Shape.str(gate.shape())));
        }
        if (weight.dtype() != x.dtype() || (gate != null && gate.dtype() != x.dtype())) {
            throw new IllegalArgumentException("groupedMatmul: dtypes differ: x " + x.dtype() + ", weight " + weight.dtype()
                    + (gate == null ? "" : ", gate " + gate.dtype()));
        }
    }

    /**
     * One AdamW step in place: param, expAvg, expAvgSq contiguous and of one shape; decoupled weight decay;
     * bias correction with the 1-based {@code step}.
     */
    public static void adamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
            double beta2, double eps, double weightDecay, long step) {
        Tensor.requireSameDevice("adamW", param, grad, expAvg, expAvgSq);
        for (Tensor t : new Tensor[] {grad, expAvg, expAvgSq}) {
            if (!Arrays.equals(t.shape(), param.shape()) || t.dtype() != param.dtype()) {
                throw new IllegalArgumentException("adamW: state " + Shape.str(t.shape()) + " " + t.dtype()
                        + " does not match param " + Shape.str(param.shape()) + " " + param.dtype());
            }
        }
        if (!param.isContiguous() || !expAvg.isContiguous() || !expAvgSq.isContiguous() || step < 1) {
            throw new IllegalArgumentException("adamW: param and moments must be contiguous and step >= 1 (step " + step + ")");
        }
        param.backend().adamW(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step);
        param.storage().bumpVersion();
    }

    private static void requireSameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": gradient shape " + Shape.str(a.shape()) + " differs from "
                    + Shape.str(b.shape()));
        }
    }
}
