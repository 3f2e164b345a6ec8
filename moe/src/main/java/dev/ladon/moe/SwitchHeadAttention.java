package dev.ladon.moe;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.nn.AttentionFunction;
import dev.ladon.nn.AttentionLayer;
import dev.ladon.nn.Init;
import dev.ladon.nn.Module;
import dev.ladon.nn.Parameter;
import dev.ladon.nn.RotaryEmbedding;
import dev.ladon.nn.SinusoidalEncoding;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;

/**
 * SwitchHead mixture-of-experts attention (Csordas et al., NeurIPS 2024; spec switchhead.md section 2).
 * Per head h: dense Q = x W_Q and K = s W_K; E value experts W_V[h, e] [d, d_h] and E output experts
 * W_O[h, e] [d_h, d]; two sigmoid selectors, W_S on the source side (from s, memory included) and W_D
 * on the destination side (from x):
 * <pre>
 *   V[h, j] = sum over the k chosen e of sigmoid(z^S[j, h, e]) * s_j W_V[h, e]
 *   O[h]    = attention(Q[h], K[h], V[h])            (one attention matrix per head, scale 1/sqrt(d_h))
 *   y_i     = sum_h sum over the k chosen e of sigmoid(z^D[i, h, e]) * O[h, i] W_O[h, e]
 * </pre>
 * Top-k indices are chosen without gradient; the gates are the sigmoids of the chosen logits (no
 * renormalisation). The XL variant adds the relative term Q . (PE(key - query) W_P) to the scores; the
 * RoPE variant rotates the first half of the channels of Q and K instead. No biases anywhere.
 *
 * <p>Shapes: x [B, T, d] (queries, the normed current block), source [B, Tm + T, d] (the normed
 * [memory; block]); output [B, T, d]. Causal inside the block, memory visible.
 */
public final class SwitchHeadAttention extends Module implements AttentionLayer {
    /** How token positions enter the scores. */
    public enum Position {
        /** Transformer-XL relative sinusoid projected by W_P (no u/v biases). */
        XL,
        /** Rotary encoding on the first half of each head's channels. */
        ROPE
    }

    private final int dModel;
    private final int heads;
    private final int headDim;
    private final int experts;
    private final int active;
    private final Position position;
    private final Parameter wq;
    private final Parameter wk;
    private final Parameter wv;
    private final Parameter wo;
    private final Parameter sourceSelector;
    private final Parameter destinationSelector;
    private final Parameter wp;
    private final RotaryEmbedding rotary;
    private double expertDropout;
    private Generator dropoutGenerator = new Generator(0);
    private ExpertUsage usage;

    /**
     * @param experts E, experts per head (for V and for O)
     * @param active  k, experts each token uses per head and side, 1 &lt;= k &lt;= E
     */
    public SwitchHeadAttention(int dModel, int heads, int headDim, int experts, int active, Position position) {
        if (dModel < 1 || heads < 1 || headDim < 1 || experts < 1 || active < 1 || active > experts) {
            throw new IllegalArgumentException("SwitchHeadAttention: need positive sizes and 1 <= k <= E, got d="
                    + dModel + " heads=" + heads + " headDim=" + headDim + " E=" + experts + " k=" + active);
        }
        if (position == null) {
            throw new IllegalArgumentException("SwitchHeadAttention: position must not be null (XL or ROPE)");
        }
        this.dModel = dModel;
        this.heads = heads;
        this.headDim = headDim;
        this.experts = experts;
        this.active = active;
        this.position = position;
        this.wq = registerParameter("wq", Tensor.zeros(dModel, heads * headDim));
        this.wk = registerParameter("wk", Tensor.zeros(dModel, heads * headDim));
        this.wv = registerParameter("wv", Tensor.zeros(heads, experts, dModel, headDim));
        this.wo = registerParameter("wo", Tensor.zeros(heads, experts, headDim, dModel));
        this.sourceSelector = registerParameter("sourceSelector", Tensor.zeros(heads * experts, dModel));
        this.destinationSelector = registerParameter("destinationSelector", Tensor.zeros(heads * experts, dModel));
        this.wp = position == Position.XL ? registerParameter("wp", Tensor.zeros(dModel, heads * headDim)) : null;
        this.rotary = position == Position.ROPE ? new RotaryEmbedding(headDim, 0.5, 10000) : null;
        resetParameters(1, new Generator(0));
    }

    /**
     * Spec section 5: W_Q, W_K, W_P and every W_V expert ~ N(0, (c/sqrt(d))^2); every W_O expert
     * ~ N(0, (c/sqrt(H d_h))^2); selectors N(0, (c/sqrt(d))^2) with rows rescaled to equal norm.
     *
     * @param residualScale c = sqrt(2/L) for a pre-LN model of L layers
     */
    public void resetParameters(double residualScale, Generator gen) {
        double std = residualScale / Math.sqrt(dModel);
        Init.normal(wq, std, gen);
        Init.normal(wk, std, gen);
        Init.normal(wv, std, gen);
        Init.normal(wo, residualScale / Math.sqrt(heads * headDim), gen);
        SelectorInit.equalNormRows(sourceSelector, std, gen);
        SelectorInit.equalNormRows(destinationSelector, std, gen);
        if (wp != null) {
            Init.normal(wp, std, gen);
        }
    }

    /**
     * Expert dropout rate delta (training only): each (token, head, expert) is hidden from the top-k choice
     * with probability delta; the gates still read the unmasked logits. 0 (the default) turns it off.
     */
    public SwitchHeadAttention expertDropout(double rate, Generator gen) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("SwitchHeadAttention.expertDropout: rate must be in [0, 1), got "
                    + rate);
        }
        this.expertDropout = rate;
        this.dropoutGenerator = gen;
        return this;
    }

    /** Starts counting expert selections (see {@link ExpertUsage}); null stops it. */
    public void trackUsage(ExpertUsage tracker) {
        this.usage = tracker;
    }

    @Override
    public Variable forward(Variable x, Variable source) {
        if (x.dim() != 3 || source.dim() != 3 || x.size(2) != dModel || source.size(2) != dModel
                || source.size(0) != x.size(0) || source.size(1) < x.size(1)) {
            throw new IllegalArgumentException("SwitchHeadAttention.forward: expected x [B, T, " + dModel
                    + "] and source [B, Tm + T, " + dModel + "], got " + Shape.str(x.shape()) + " and "
                    + Shape.str(source.shape()));
        }
        int b = x.size(0);
        int t = x.size(1);
        int tk = source.size(1);
        Variable xFlat = x.reshape(b * t, dModel);
        Variable sFlat = source.reshape(b * tk, dModel);

        // Selection logits [N, H, E] for each side; the choices are constants, the gates differentiable.
        Variable zSource = sFlat.matmul(sourceSelector.variable().mT()).view(b * tk, heads, experts);
        Variable zDestination = xFlat.matmul(destinationSelector.variable().mT()).view(b * t, heads, experts);
        Tensor sourceIndices = choose(zSource);
        Tensor destinationIndices = choose(zDestination);
        if (usage != null) {
            usage.record("source", sourceIndices, experts);
            usage.record("destination", destinationIndices, experts);
        }
        Variable sourceGates = zSource.gather(2, sourceIndices).sigmoid().reshape(-1);
        Variable destinationGates = zDestination.gather(2, destinationIndices).sigmoid().reshape(-1);
        ExpertChoice valueChoice = ExpertChoice.of(sourceIndices, experts, x.device());
        ExpertChoice outputChoice = ExpertChoice.of(destinationIndices, experts, x.device());

        // V [B, H, Tk, d_h]: each source token through its own k value experts per head, summed.
        Variable v = ExpertMatmul.apply(sFlat, wv.variable().reshape(heads * experts, dModel, headDim), sourceGates,
                valueChoice.tokenRows(), valueChoice.experts())
                .view(b, tk, heads, active, headDim).sum(new int[] {3}, false).permute(0, 2, 1, 3);
        Variable q = x.matmul(wq.variable()).view(b, t, heads, headDim).permute(0, 2, 1, 3);
        Variable k = source.matmul(wk.variable()).view(b, tk, heads, headDim).permute(0, 2, 1, 3);
        Variable rel = null;
        FusedOps.AttentionRotation rotation = null;
        if (position == Position.XL) {
            Tensor pe = SinusoidalEncoding.relative(tk, dModel, x.dtype(), x.device());
            rel = Variable.constant(pe).matmul(wp.variable()).view(tk, heads, headDim).permute(1, 0, 2);
        } else {
            // RoPE, queries at positions tk - t .., keys at 0 ..: rotated inside the attention op.
            rotation = rotary.attentionRotation(t, tk, x.dtype(), x.device());
        }
        Variable o = AttentionFunction.attention(q, k, v, rel, rotation, 1 / Math.sqrt(headDim), true);

        // y [B, T, d]: each (token, head) row of O through its k output experts; sum over heads and choices.
        Variable oRows = o.permute(0, 2, 1, 3).reshape(b * t * heads, headDim);
        return ExpertMatmul.apply(oRows, wo.variable().reshape(heads * experts, headDim, dModel), destinationGates,
                outputChoice.pairRows(), outputChoice.experts())
                .view(b, t, heads * active, dModel).sum(new int[] {2}, false);
    }

    /** Top-k expert indices [N, H, k] of logits [N, H, E], with expert dropout in training. */
    private Tensor choose(Variable logits) {
        try (var ng = GradMode.noGrad()) {
            Tensor z = logits.data();
            if (isTraining() && expertDropout > 0) {
                Tensor drop = Tensor.rand(dropoutGenerator, z.dtype(), z.device(), z.shape()).lt(expertDropout);
                z = z.maskedFill(drop, Double.NEGATIVE_INFINITY);
            }
            return z.topk(active, 2, true).indices();
        }
    }

    public int heads() {
        return heads;
    }

    public int experts() {
        return experts;
    }

    public int activeExperts() {
        return active;
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", heads=" + heads + ", headDim=" + headDim + ", experts=" + experts + ", k=" + active
                + ", position=" + position + (expertDropout > 0 ? ", expertDropout=" + expertDropout : "");
    }
}
