package dev.ladon.autograd;

import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.Arrays;

/**
 * Layer-level functions (like {@code torch.nn.functional}). layerNorm, rmsNorm and crossEntropy run the
 * fused kernels of {@link FusedOps} forward and backward; their backward is a kernel, not Variable ops, so
 * they are once-differentiable (a second derivative through them fails, naming the op). linear, linearRelu
 * (linear then ReLU) and reluFeedForward (the feed-forward layer with ReLU) are one node each with two
 * backwards: without createGraph one {@link FusedOps#linearBackward} call per layer, with it the same
 * gradients as Variable ops, so they can be differentiated again. mse and dropout are composed of Variable
 * ops.
 */
public final class Functional {
    private Functional() {
    }

    /**
     * The affine map of a linear layer over the last dim: x [..., in] W^T + b with weight [out, in] (PyTorch's
     * layout) and bias [out] or null; returns [..., out]. One node instead of a transpose, a product and a
     * broadcast add: the bias is added to each block of the product as it is finished
     * ({@link FusedOps#linear}), and the weight gradient g^T x comes out in the weight's own layout. Its
     * backward is one {@link FusedOps#linearBackward} call; under createGraph it is Variable ops instead, so
     * it can be differentiated again.
     *
     * @throws IllegalArgumentException when weight is not 2-D, x's last dim is not weight's second, or bias
     *                                  is not [out]
     */
    public static Variable linear(Variable x, Variable weight, Variable bias) {
        return linear("linear", x, weight, bias, false);
    }

    /**
     * relu(linear(x, weight, bias)) as one node: the ReLU is taken on each block of the product as it is
     * finished, so the pre-activation is never written out, and the backward masks the gradient by the saved
     * output. The feed-forward layer's first half.
     *
     * @throws IllegalArgumentException as {@link #linear}
     */
    public static Variable linearRelu(Variable x, Variable weight, Variable bias) {
        return linear("linearRelu", x, weight, bias, true);
    }

    private static Variable linear(String op, Variable x, Variable weight, Variable bias, boolean relu) {
        if (weight.dim() != 2 || x.dim() == 0 || x.size(-1) != weight.size(1)
                || (bias != null && (bias.dim() != 1 || bias.size(0) != weight.size(0)))) {
            throw new IllegalArgumentException(op + ": expected x [..., in], weight [out, in] and bias [out] or none; got x "
                    + Shape.str(x.shape()) + ", weight " + Shape.str(weight.shape())
                    + (bias == null ? "" : ", bias " + Shape.str(bias.shape())));
        }
        int in = weight.size(1);
        int out = weight.size(0);
        int[] xShape = x.shape();
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = out;
        // One 2-D product over all rows: the weight gradient is then one GEMM, not a per-batch sum.
        Tensor y = FusedOps.linear(x.data().reshape(-1, in), weight.data(), dataOf(bias), relu);
        return Node.record(op, y.reshape(outShape), new Variable[] {x, weight, bias}, new Variable[] {x, weight}, relu,
                (g, s, needs) -> {
                    if (!relu) {
                        return linearGradients(g.reshape(-1, out), s, needs, in, xShape);
                    }
                    // The output is saved after the inputs; the gradient passes where it is positive. That masked
                    // gradient is this formula's own temporary: without createGraph nothing keeps it once the
                    // products have read it, so an open workspace scope gets its memory back at once (else it
                    // would stay lent until the scope closes, an activation-sized tensor per layer).
                    Workspace.Scope scope = GradMode.isEnabled() ? null : Workspace.current();
                    long mark = scope == null ? 0 : scope.mark();
                    Variable masked = PointwiseOps.reluGradient(g, s[2]);
                    Variable[] grads = linearGradients(masked.reshape(-1, out), s, needs, in, xShape);
                    if (scope != null) {
                        scope.releaseIfLentSince(masked.data(), mark);
                    }
                    return grads;
                });
    }

    /**
     * relu(x W1^T + b1) W2^T + b2, the feed-forward layer with ReLU, as one node: x [..., d], w1 [dFF, d],
     * w2 [out, dFF], biases [dFF] and [out] or null; returns [..., out]. The values are those of
     * {@code linear(linearRelu(x, w1, b1), w2, b2)}. Backward, the hidden gradient is masked by the saved
     * hidden activations as the product that makes it finishes, so the masked and unmasked copies of that
     * [N, dFF] gradient are never both written out. With createGraph the backward recomputes the hidden layer
     * as a node of its own and composes the two layers' formulas, so it can be differentiated again.
     *
     * @throws IllegalArgumentException when the shapes do not chain as above
     */
    public static Variable reluFeedForward(Variable x, Variable w1, Variable b1, Variable w2, Variable b2) {
        if (x.dim() == 0 || w1.dim() != 2 || w2.dim() != 2 || x.size(-1) != w1.size(1) || w2.size(1) != w1.size(0)
                || (b1 != null && (b1.dim() != 1 || b1.size(0) != w1.size(0)))
                || (b2 != null && (b2.dim() != 1 || b2.size(0) != w2.size(0)))) {
            throw new IllegalArgumentException("reluFeedForward: expected x [..., d], w1 [dFF, d], b1 [dFF] or none, "
                    + "w2 [dOut, dFF] and b2 [dOut] or none; got x " + Shape.str(x.shape()) + ", w1 "
                    + Shape.str(w1.shape()) + (b1 == null ? "" : ", b1 " + Shape.str(b1.shape())) + ", w2 "
                    + Shape.str(w2.shape()) + (b2 == null ? "" : ", b2 " + Shape.str(b2.shape())));
        }
        int in = w1.size(1);
        int out = w2.size(0);
        int[] xShape = x.shape();
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = out;
        Tensor hidden = FusedOps.linear(x.data().reshape(-1, in), w1.data(), dataOf(b1), true);
        Tensor y = FusedOps.linear(hidden, w2.data(), dataOf(b2), false);
        Variable[] inputs = {x, w1, b1, w2, b2};
        return Node.record("reluFeedForward", y.reshape(outShape), inputs,
                new Variable[] {x, w1, b1, w2, Variable.constant(hidden)}, false, (g, s, needs) -> {
                    Variable rows = g.reshape(-1, out);
                    boolean needsUp = needs[0] || needs[1] || needs[2];
                    if (GradMode.isEnabled()) {
                        // The saved hidden layer is a constant; a gradient that is differentiated again needs it
                        // as a function of x, w1 and b1.
                        Variable h = linear("linearRelu", s[0].reshape(-1, in), s[1], s[2], true);
                        Variable[] down = linearGradients(rows, new Variable[] {h, s[3]},
                                new boolean[] {needsUp, needs[3], needs[4]}, h.size(1), h.shape());
                        Variable[] up = needsUp ? linearGradients(PointwiseOps.reluGradient(down[0], h),
                                new Variable[] {s[0], s[1]}, new boolean[] {needs[0], needs[1], needs[2]}, in, xShape)
                                : new Variable[3];
                        return new Variable[] {up[0], up[1], up[2], down[1], down[2]};
                    }
                    Workspace.Scope scope = Workspace.current();
                    long mark = scope == null ? 0 : scope.mark();
                    FusedOps.LinearGradients down = FusedOps.linearBackward(rows.data(), s[4].data(), s[3].data(),
                            needsUp, needs[3], needs[4], true);
                    FusedOps.LinearGradients up = needsUp ? FusedOps.linearBackward(down.input(),
                            s[0].data().reshape(-1, in), s[1].data(), needs[0], needs[1], needs[2], false) : null;
                    if (scope != null && down.input() != null) {
                        // The hidden gradient is this formula's own temporary: the workspace gets it back now.
                        scope.releaseIfLentSince(down.input(), mark);
                    }
                    Variable[] upGrads = up == null ? new Variable[3] : constants(up, xShape);
                    return new Variable[] {upGrads[0], upGrads[1], upGrads[2], constantOrNull(down.weight()),
                            constantOrNull(down.bias())};
                });
    }

    /**
     * dx, dW and db of a linear node from its output gradient as rows [N, out]; s = {x, W, ...}. Unless the
     * gradients are to be differentiated again, one fused call ({@link FusedOps#linearBackward}), which on the
     * CPU sums db inside the product that makes dW.
     */
    private static Variable[] linearGradients(Variable rows, Variable[] s, boolean[] needs, int in, int[] xShape) {
        if (!GradMode.isEnabled()) {
            return constants(FusedOps.linearBackward(rows.data(), s[0].data().reshape(-1, in), s[1].data(), needs[0],
                    needs[1], needs[2], false), xShape);
        }
        return new Variable[] {
                needs[0] ? rows.matmul(s[1]).reshape(xShape) : null,
                needs[1] ? rows.mT().matmul(s[0].reshape(-1, in)) : null,
                needs[2] ? rows.sum(0) : null};
    }

    /** {dx shaped as x, dW, db} of a linear layer as constants (null where not computed). */
    private static Variable[] constants(FusedOps.LinearGradients g, int[] xShape) {
        return new Variable[] {g.input() == null ? null : Variable.constant(g.input().reshape(xShape)),
                constantOrNull(g.weight()), constantOrNull(g.bias())};
    }

    /**
     * Layer norm over the last dim of x [..., D]: (x - mean) / sqrt(var + eps) * weight + bias, with the
     * biased variance. weight and bias are [D] or null.
     */
    public static Variable layerNorm(Variable x, Variable weight, Variable bias, double eps) {
        FusedOps.LayerNormResult r = FusedOps.layerNorm(x.data(), dataOf(weight), dataOf(bias), eps);
        int d = x.size(-1);
        Variable[] saved = {x, weight, Variable.constant(r.mean()), Variable.constant(r.rstd())};
        return Node.record("layerNorm", r.output(), new Variable[] {x, weight, bias}, saved, false, true,
                (g, s, needs) -> {
                    FusedOps.LayerNormResult stats = new FusedOps.LayerNormResult(null, s[2].data(), s[3].data());
                    Tensor[] grads = FusedOps.layerNormBackward(g.data(), s[0].data(), dataOf(s[1]), stats);
                    Tensor dBias = null;
                    if (needs[2]) {
                        // The kernel sums dbias only alongside dweight; without a weight, sum the rows here.
                        dBias = grads[2] != null ? grads[2] : g.data().reshape(-1, d).sum(0);
                    }
                    return new Variable[] {constantOrNull(grads[0]), needs[1] ? constantOrNull(grads[1]) : null,
                            constantOrNull(dBias)};
                });
    }

    /** RMS norm over the last dim of x [..., D]: x / sqrt(mean(x^2) + eps) * weight; weight [D] or null. */
    public static Variable rmsNorm(Variable x, Variable weight, double eps) {
        FusedOps.RmsNormResult r = FusedOps.rmsNorm(x.data(), dataOf(weight), eps);
        Variable[] saved = {x, weight, Variable.constant(r.rstd())};
        return Node.record("rmsNorm", r.output(), new Variable[] {x, weight}, saved, false, true, (g, s, needs) -> {
            FusedOps.RmsNormResult stats = new FusedOps.RmsNormResult(null, s[2].data());
            Tensor[] grads = FusedOps.rmsNormBackward(g.data(), s[0].data(), dataOf(s[1]), stats);
            return new Variable[] {constantOrNull(grads[0]), needs[1] ? constantOrNull(grads[1]) : null};
        });
    }

    /**
     * Cross-entropy of logits [N, C] against int targets [N], averaged over the rows whose target is not
     * {@code ignoreIndex} (NaN when every row is ignored, as PyTorch). With label smoothing s the target
     * distribution is (1 - s) one-hot + s / C.
     */
    public static Variable crossEntropy(Variable logits, Tensor target, int ignoreIndex, double labelSmoothing) {
        FusedOps.CrossEntropyResult r = FusedOps.crossEntropy(logits.data(), target, ignoreIndex, labelSmoothing);
        // The count stays on the device: no host round trip per step.
        Tensor counted = target.ne(ignoreIndex).sum().to(logits.dtype());
        Tensor loss = r.losses().sum().div(counted);
        Variable[] saved = {logits, Variable.constant(target), Variable.constant(r.logSumExp()),
                Variable.constant(counted)};
        return Node.record("crossEntropy", loss, new Variable[] {logits}, saved, false, true, (g, s, needs) -> {
            FusedOps.CrossEntropyResult stats = new FusedOps.CrossEntropyResult(null, s[2].data());
            Tensor perRow = g.data().div(s[3].data());
            return new Variable[] {Variable.constant(FusedOps.crossEntropyBackward(perRow, s[0].data(), s[1].data(),
                    stats, ignoreIndex, labelSmoothing))};
        });
    }

    /** Cross-entropy with ignore index -100 and no label smoothing (PyTorch's defaults). */
    public static Variable crossEntropy(Variable logits, Tensor target) {
        return crossEntropy(logits, target, -100, 0.0);
    }

    /** Mean squared error over all elements of a and b, which have one shape. */
    public static Variable mse(Variable a, Variable b) {
        // Equal shapes, as PyTorch's mse_loss expects: broadcasting [N, 1] against [N] would average N^2 pairs.
        if (!Arrays.equals(a.shape(), b.shape()) || !a.dtype().isFloating() || !b.dtype().isFloating()) {
            throw new IllegalArgumentException("mse: needs floating inputs of one shape, got " + a.dtype() + " "
                    + Shape.str(a.shape()) + " and " + b.dtype() + " " + Shape.str(b.shape()));
        }
        return a.sub(b).square().mean();
    }

    /**
     * Inverted dropout: in training, zeroes each element with probability p and scales the rest by
     * 1 / (1 - p), drawing the mask from {@code generator}; the identity when not training or p = 0.
     */
    public static Variable dropout(Variable x, double p, boolean training, Generator generator) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("dropout: p must be in [0, 1], got " + p + " (input "
                    + Shape.str(x.shape()) + ")");
        }
        if (!training || p == 0) {
            return x;
        }
        if (p == 1) {
            return x.mul(0.0);
        }
        Tensor keep = Tensor.dropoutMask(p, generator, x.dtype(), x.device(), x.shape());
        return x.mul(Variable.constant(keep));
    }

    private static Tensor dataOf(Variable v) {
        return v == null ? null : v.data();
    }

    private static Variable constantOrNull(Tensor t) {
        return t == null ? null : Variable.constant(t);
    }
}
