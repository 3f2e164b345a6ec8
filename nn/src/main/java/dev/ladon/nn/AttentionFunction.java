package dev.ladon.nn;

import dev.ladon.autograd.Function;
import dev.ladon.autograd.FunctionContext;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Shape;
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
        checkScale("AttentionFunction.attention", scale);
        return new AttentionFunction(rotation, scale, causal).apply(q, k, v, rel);
    }

    /**
     * Self-attention over one projection that holds Q, K and V side by side, qkv [B, T, 3 H D] (as x [Wq; Wk;
     * Wv]^T), as attention of its three [B, H, T, D] views. The gradient with respect to qkv comes out as one
     * tensor, the kernel writing dq, dk and dv into its three slices: three views of qkv would each send back a
     * zero-padded [B, T, 3 H D] gradient for the engine to sum. On the CPU the output [B, H, T, D] is laid out
     * as [B, T, H, D], so the heads merge without a copy.
     */
    public static Variable packed(Variable qkv, int heads, int headDim, FusedOps.AttentionRotation rotation,
            double scale, boolean causal) {
        if (qkv.dim() != 3 || qkv.size(2) != 3 * heads * headDim) {
            throw new IllegalArgumentException("AttentionFunction.packed: expected qkv [B, T, 3 * " + heads + " * "
                    + headDim + "], got " + Shape.str(qkv.shape()));
        }
        checkScale("AttentionFunction.packed", scale);
        return new Packed(heads, headDim, rotation, scale, causal).apply(qkv);
    }

    /** A NaN or infinite scale would make every score, and so every output, NaN. */
    private static void checkScale(String op, double scale) {
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException(op + ": scale must be finite, got " + scale);
        }
    }

    /** The function behind {@link #packed}. */
    private static final class Packed extends Function {
        private final int heads;
        private final int headDim;
        private final FusedOps.AttentionRotation rotation;
        private final double scale;
        private final boolean causal;

        Packed(int heads, int headDim, FusedOps.AttentionRotation rotation, double scale, boolean causal) {
            this.heads = heads;
            this.headDim = headDim;
            this.rotation = rotation;
            this.scale = scale;
            this.causal = causal;
        }

        /** q, k and v: [B, H, T, D] views of qkv [B, T, 3 H D]. */
        private Tensor[] split(Tensor qkv) {
            Tensor parts = qkv.view(qkv.size(0), qkv.size(1), 3, heads, headDim);
            return new Tensor[] {parts.select(2, 0).permute(0, 2, 1, 3), parts.select(2, 1).permute(0, 2, 1, 3),
                    parts.select(2, 2).permute(0, 2, 1, 3)};
        }

        @Override
        protected Tensor forward(FunctionContext ctx, Tensor... in) {
            Tensor[] qkv = split(in[0]);
            FusedOps.AttentionResult r = FusedOps.attention(qkv[0], qkv[1], qkv[2], null, rotation, scale, causal);
            ctx.saveForBackward(in[0], r.output(), r.logSumExp());
            return r.output();
        }

        @Override
        protected Tensor[] backward(FunctionContext ctx, Tensor gradOutput) {
            Tensor[] s = ctx.savedTensors();
            Tensor[] qkv = split(s[0]);
            // dq, dk and dv go straight into the three slices of one gradient laid out like the projection.
            Tensor packedGrad = Tensor.zeros(s[0].dtype(), s[0].device(), s[0].shape());
            Tensor[] grads = split(packedGrad);
            FusedOps.attentionBackwardInto(gradOutput, qkv[0], qkv[1], qkv[2], rotation,
                    new FusedOps.AttentionResult(s[1], s[2]), scale, causal, grads[0], grads[1], grads[2]);
            return new Tensor[] {packedGrad};
        }

        @Override
        public String name() {
            return "packedAttention";
        }
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
