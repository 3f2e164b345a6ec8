package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import java.util.List;

/**
 * Causal multi-head self-attention on the fused kernel, optionally with rotary position embedding
 * (the RoPE variant of SwitchHead spec section 2). No biases. Per head h:
 * O_h = softmax(Q_h K_h^T / sqrt(d_h) + causal mask) V_h with Q = x W_Q, K = s W_K, V = s W_V, and
 * y = concat_h(O_h) W_O. Keys and values come from {@code source} = [memory; x] (see {@link AttentionLayer});
 * with RoPE, queries sit at positions Tm .. Tm + T - 1 and keys at 0 .. Tm + T - 1.
 */
public final class MultiHeadAttention extends Module implements AttentionLayer {
    private final int dModel;
    private final int heads;
    private final int headDim;
    private final Linear wq;
    private final Linear wk;
    private final Linear wv;
    private final Linear wo;
    private final RotaryEmbedding rotary;

    /**
     * @param ropeFraction share of each head's channels that RoPE rotates, in [0, 1] (0.5 in the paper's RoPE
     *                     runs); 0 for no position information inside attention
     */
    public MultiHeadAttention(int dModel, int heads, int headDim, double ropeFraction) {
        if (dModel < 1 || heads < 1 || headDim < 1) {
            throw new IllegalArgumentException("MultiHeadAttention: sizes must be positive, got d=" + dModel + " heads="
                    + heads + " headDim=" + headDim);
        }
        if (!(ropeFraction >= 0 && ropeFraction <= 1)) {
            throw new IllegalArgumentException("MultiHeadAttention: ropeFraction must be in [0, 1] (0 for no RoPE), "
                    + "got " + ropeFraction);
        }
        this.dModel = dModel;
        this.heads = heads;
        this.headDim = headDim;
        this.wq = registerModule("wq", new Linear(dModel, heads * headDim, false));
        this.wk = registerModule("wk", new Linear(dModel, heads * headDim, false));
        this.wv = registerModule("wv", new Linear(dModel, heads * headDim, false));
        this.wo = registerModule("wo", new Linear(heads * headDim, dModel, false));
        this.rotary = ropeFraction > 0 ? new RotaryEmbedding(headDim, ropeFraction, 10000) : null;
    }

    @Override
    public Variable forward(Variable x, Variable source) {
        checkInputs("MultiHeadAttention", x, source, dModel);
        // RoPE: queries at positions memory .. memory + T - 1, keys at 0 ..; rotated inside the attention op.
        FusedOps.AttentionRotation rotation = rotary == null ? null
                : rotary.attentionRotation(x.size(1), source.size(1), x.dtype(), x.device());
        if (source == x) {
            return selfAttention(x, rotation);
        }
        Variable q = splitHeads(wq.forward(x), heads, headDim);
        Variable k = splitHeads(wk.forward(source), heads, headDim);
        Variable v = splitHeads(wv.forward(source), heads, headDim);
        Variable o = AttentionFunction.attention(q, k, v, null, rotation, 1 / Math.sqrt(headDim), true);
        return wo.forward(mergeHeads(o));
    }

    /**
     * Self-attention without memory: Q, K and V from one product with the three weights stacked (wider
     * products run closer to the machine's peak, and the input gradient is one product instead of three and
     * two sums), attended as views of it ({@link AttentionFunction#packed}).
     */
    private Variable selfAttention(Variable x, FusedOps.AttentionRotation rotation) {
        Variable w = Variable.cat(List.of(wq.weight().variable(), wk.weight().variable(), wv.weight().variable()), 0);
        Variable qkv = Functional.linear(x, w, null);
        Variable o = AttentionFunction.packed(qkv, heads, headDim, rotation, 1 / Math.sqrt(headDim), true);
        return wo.forward(mergeHeads(o));
    }

    /**
     * Spec section 5 init: W_Q, W_K, W_V ~ N(0, (c / sqrt(d))^2), W_O ~ N(0, (c / sqrt(H d_h))^2), with c
     * the residual scale sqrt(2 / L).
     */
    public void resetParameters(double residualScale, Generator gen) {
        Init.normal(wq.weight(), residualScale / Math.sqrt(dModel), gen);
        Init.normal(wk.weight(), residualScale / Math.sqrt(dModel), gen);
        Init.normal(wv.weight(), residualScale / Math.sqrt(dModel), gen);
        Init.normal(wo.weight(), residualScale / Math.sqrt(heads * headDim), gen);
    }

    /** [B, T, H * Dh] to [B, H, T, Dh] (a view). */
    static Variable splitHeads(Variable x, int heads, int headDim) {
        return x.view(x.size(0), x.size(1), heads, headDim).permute(0, 2, 1, 3);
    }

    /** [B, H, T, Dh] to [B, T, H * Dh]. */
    static Variable mergeHeads(Variable o) {
        return o.permute(0, 2, 1, 3).reshape(o.size(0), o.size(2), o.size(1) * o.size(3));
    }

    static void checkInputs(String layer, Variable x, Variable source, int dModel) {
        if (x.dim() != 3 || source.dim() != 3 || x.size(2) != dModel || source.size(2) != dModel
                || source.size(0) != x.size(0) || source.size(1) < x.size(1)) {
            throw new IllegalArgumentException(layer + ".forward: expected x [B, T, " + dModel + "] and source [B, Tm + T, "
                    + dModel + "], got " + Shape.str(x.shape()) + " and " + Shape.str(source.shape()));
        }
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", heads=" + heads + ", headDim=" + headDim
                + (rotary == null ? "" : ", rope=" + rotary.rotatedChannels() + "/" + headDim);
    }
}
