package dev.ladon.nn;

import dev.ladon.autograd.Function;
import dev.ladon.autograd.FunctionContext;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;

/**
 * Scaled-dot-product attention as one differentiable op on the fused kernel ({@link FusedOps#attention}):
 * the [Tq, Tk] score matrix is never stored, backward recomputes it from the saved output and row
 * log-sum-exp. Shapes: q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv] (any may be broadcast views,
 * e.g. one K/V expanded over heads), optional rel [H, Tk, D] (the Transformer-XL relative term, row
 * Delta + Tk - 1 for distance Delta = key position - query position; needs causal). Output [B, H, Tq, Dv].
 */
public final class AttentionFunction extends Function {
    private final FusedOps.AttentionRotation rotation;
    private final double scale;
    private final boolean causal;

    private AttentionFunction(FusedOps.AttentionRotation rotation, double scale, boolean causal) {
        this.rotation = rotation;
        this.scale = scale;
        this.causal = causal;
    }

    /**
     * softmax(scale * (q k^T + q rel^T shifted) + mask) v, see the class comment; {@code rel} may be null.
     * With causal, key j is visible from query i iff j &lt;= i + Tk - Tq (the first Tk - Tq keys are memory).
     */
    public static Variable attention(Variable q, Variable k, Variable v, Variable rel, double scale, boolean causal) {
        return attention(q, k, v, rel, null, scale, causal);
    }

    /**
     * The same with q and k rotated by {@code rotation} (RoPE; null for none, see
     * {@link RotaryEmbedding#attentionRotation}) inside the op: gradients are with respect to the unrotated q
     * and k, and the rotated ones are neither kept nor, on the CPU, written out.
     */
    public static Variable attention(Variable q, Variable k, Variable v, Variable rel,
            FusedOps.AttentionRotation rotation, double scale, boolean causal) {
        return new AttentionFunction(rotation, scale, causal).apply(q, k, v, rel);
    }

    @Override
    protected Tensor forward(FunctionContext ctx, Tensor... in) {
        FusedOps.AttentionResult r = FusedOps.attention(in[0], in[1], in[2], in[3], rotation, scale, causal);
        ctx.saveForBackward(in[0], in[1], in[2], in[3], r.output(), r.logSumExp());
        return r.output();
    }

    @Override
    protected Tensor[] backward(FunctionContext ctx, Tensor gradOutput) {
        Tensor[] s = ctx.savedTensors();
        FusedOps.AttentionResult saved = new FusedOps.AttentionResult(s[4], s[5]);
        return FusedOps.attentionBackward(gradOutput, s[0], s[1], s[2], s[3], rotation, saved, scale, causal);
    }

    @Override
    public String name() {
        return "attention";
    }
}
