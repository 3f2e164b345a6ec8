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
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

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
 * <p>The paper's layer makes V and O experts. For its projection ablation (spec section 8) any set of Q, K,
 * V and O can be: an expert Q uses the destination selector (with O), an expert K the source selector (with
 * V), each built only when a projection uses it; the others are dense [d, H d_h] (O: [H d_h, d]) matrices.
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
    private final Set<ModelConfig.Projection> expertProjections;
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
     * The paper's layer: V and O experts.
     *
     * @param experts E, experts per head (for V and for O)
     * @param active  k, experts each token uses per head and side, 1 &lt;= k &lt;= E
     */
    public SwitchHeadAttention(int dModel, int heads, int headDim, int experts, int active, Position position) {
        this(dModel, heads, headDim, experts, active, position,
                EnumSet.of(ModelConfig.Projection.V, ModelConfig.Projection.O));
    }

    /**
     * A layer whose {@code expertProjections} (a non-empty set of Q, K, V, O) are experts and the others
     * dense, as in the paper's projection ablation.
     */
    public SwitchHeadAttention(int dModel, int heads, int headDim, int experts, int active, Position position,
            Set<ModelConfig.Projection> expertProjections) {
        if (dModel < 1 || heads < 1 || headDim < 1 || experts < 1 || active < 1 || active > experts) {
            throw new IllegalArgumentException("SwitchHeadAttention: need positive sizes and 1 <= k <= E, got d="
                    + dModel + " heads=" + heads + " headDim=" + headDim + " E=" + experts + " k=" + active);
        }
        if (expertProjections == null || expertProjections.isEmpty()) {
            throw new IllegalArgumentException("SwitchHeadAttention: need at least one of Q, K, V, O as experts, got "
                    + expertProjections);
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
        this.expertProjections = Collections.unmodifiableSet(EnumSet.copyOf(expertProjections));
        this.wq = registerParameter("wq", isExpert(ModelConfig.Projection.Q)
                ? Tensor.zeros(heads, experts, dModel, headDim) : Tensor.zeros(dModel, heads * headDim));
        this.wk = registerParameter("wk", isExpert(ModelConfig.Projection.K)
                ? Tensor.zeros(heads, experts, dModel, headDim) : Tensor.zeros(dModel, heads * headDim));
        this.wv = registerParameter("wv", isExpert(ModelConfig.Projection.V)
                ? Tensor.zeros(heads, experts, dModel, headDim) : Tensor.zeros(dModel, heads * headDim));
        this.wo = registerParameter("wo", isExpert(ModelConfig.Projection.O)
                ? Tensor.zeros(heads, experts, headDim, dModel) : Tensor.zeros(heads * headDim, dModel));
        this.sourceSelector = ModelConfig.Projection.usesSourceSelector(this.expertProjections)
                ? registerParameter("sourceSelector", Tensor.zeros(heads * experts, dModel)) : null;
        this.destinationSelector = ModelConfig.Projection.usesDestinationSelector(this.expertProjections)
                ? registerParameter("destinationSelector", Tensor.zeros(heads * experts, dModel)) : null;
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
        if (sourceSelector != null) {
            SelectorInit.equalNormRows(sourceSelector, std, gen);
        }
        if (destinationSelector != null) {
            SelectorInit.equalNormRows(destinationSelector, std, gen);
        }
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

        // Each side's selection (logits [N, H, E]; the choices are constants, the gates differentiable), for
        // the side's expert projections: source (K, V) and destination (Q, O).
        Routing sourceSide = sourceSelector == null ? null : route("source", sFlat, sourceSelector, x);
        Routing destinationSide = destinationSelector == null ? null
                : route("destination", xFlat, destinationSelector, x);

        // Q [B, H, T, d_h], K and V [B, H, Tk, d_h]: a token's row through its k experts per head, summed,
        // or through the dense matrix.
        Variable q = project(ModelConfig.Projection.Q, xFlat, wq, destinationSide).view(b, t, heads, headDim)
                .permute(0, 2, 1, 3);
        Variable k = project(ModelConfig.Projection.K, sFlat, wk, sourceSide).view(b, tk, heads, headDim)
                .permute(0, 2, 1, 3);
        Variable v = project(ModelConfig.Projection.V, sFlat, wv, sourceSide).view(b, tk, heads, headDim)
                .permute(0, 2, 1, 3);
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

        // y [B, T, d]: each (token, head) row of O through its k output experts, summed over heads and
        // choices; or the heads side by side through the dense W_O.
        if (!isExpert(ModelConfig.Projection.O)) {
            return o.permute(0, 2, 1, 3).reshape(b, t, heads * headDim).matmul(wo.variable());
        }
        Variable oRows = o.permute(0, 2, 1, 3).reshape(b * t * heads, headDim);
        return ExpertMatmul.apply(oRows, wo.variable().reshape(heads * experts, headDim, dModel),
                destinationSide.gates(), destinationSide.choice().pairRows(), destinationSide.choice().experts())
                .view(b, t, heads * active, dModel).sum(new int[] {2}, false);
    }

    /** One selector's choice for a batch of tokens: which experts, and their gates [N * H * k]. */
    private record Routing(ExpertChoice choice, Variable gates) {
    }

    private Routing route(String side, Variable tokens, Parameter selector, Variable x) {
        Variable logits = tokens.matmul(selector.variable().mT()).view(tokens.size(0), heads, experts);
        Tensor indices = choose(logits);
        if (usage != null) {
            usage.record(side, indices, experts);
        }
        return new Routing(ExpertChoice.of(indices, experts, x.device()), logits.gather(2, indices).sigmoid()
                .reshape(-1));
    }

    /** A Q, K or V projection of token rows [N, d]: [N, H * d_h], through experts or the dense matrix. */
    private Variable project(ModelConfig.Projection which, Variable rows, Parameter weight, Routing side) {
        if (!isExpert(which)) {
            return rows.matmul(weight.variable());
        }
        return ExpertMatmul.apply(rows, weight.variable().reshape(heads * experts, dModel, headDim), side.gates(),
                side.choice().tokenRows(), side.choice().experts())
                .view(rows.size(0), heads, active, headDim).sum(new int[] {2}, false);
    }

    private boolean isExpert(ModelConfig.Projection p) {
        return expertProjections.contains(p);
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

    /** Which of Q, K, V and O are experts ({V, O} for the paper's layer). */
    public Set<ModelConfig.Projection> expertProjections() {
        return expertProjections;
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", heads=" + heads + ", headDim=" + headDim + ", experts=" + experts + ", k=" + active
                + ", position=" + position + (expertProjections.equals(EnumSet.of(ModelConfig.Projection.V,
                ModelConfig.Projection.O)) ? "" : ", experts in " + expertProjections) + (expertDropout > 0 ? ", expertDropout=" + expertDropout : "");
    }
}
