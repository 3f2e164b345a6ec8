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
import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.FusedOps;
import dev.ladon.tensor.Tensor;

/**
 * Mixture of attention heads (Zhang et al., EMNLP 2022) as re-implemented inside the Transformer-XL LM
 * for SwitchHead's Table 1 (spec moa.md sections 2 and 7). E attention experts, each with its own query
 * projection W_q[e] [d, d_h] and output projection W_o[e] [d_h, d]; one key and one value projection
 * (d_h wide) shared by all experts; a router W_g [E, d]. Each token picks k experts:
 * <pre>
 *   SOFTMAX: p = softmax(x W_g^T) over all E, the k largest p, gate = p (not renormalised)
 *   SIGMOID: the k largest logits, gate = sigmoid(logit)
 *   y_t = sum over the chosen e of gate_e * attention(scale * x_t W_q[e], K, V) W_o[e]
 * </pre>
 * The gate multiplies only the output path; {@code scale} is learnt, starting at 1/sqrt(d_h). With XL
 * positions a relative projection W_pos [d, d_h] shared by the experts adds q . PE(key - query) W_pos to
 * the scores; with ROPE the first half of q and k channels is rotated.
 *
 * <p>After each forward {@link #auxLoss()} holds the routing regularisers: SOFTMAX mode
 * alpha * L_switch + beta * L_z (load balancing E * sum_i f_i P_i and router z-loss, defaults 0.01 and
 * 0.001); SIGMOID mode gamma * sum_e pbar_e log pbar_e (default gamma 0). Shapes: x [B, T, d],
 * source [B, Tm + T, d], output [B, T, d].
 */
public final class MoAAttention extends Module implements AttentionLayer {
    /** How the router turns logits into choices and gates. */
    public enum Selection {
        /** The original MoA: softmax over all experts, gates are the probabilities. */
        SOFTMAX,
        /** Sigmoid gates on the chosen logits (the "sigmoid" rows of SwitchHead's Table 1). */
        SIGMOID
    }

    private final int dModel;
    private final int headDim;
    private final int experts;
    private final int active;
    private final Selection selection;
    private final SwitchHeadAttention.Position position;
    private final Parameter router;
    private final Parameter wq;
    private final Parameter wo;
    private final Parameter wkv;
    private final Parameter wpos;
    private final Parameter scale;
    private final RotaryEmbedding rotary;
    private double loadBalanceWeight = 0.01;
    private double zLossWeight = 0.001;
    private double entropyWeight;
    private double expertDropout;
    private Generator dropoutGenerator = new Generator(0);
    private Variable auxLoss;
    private ExpertUsage usage;

    /**
     * @param experts E attention experts
     * @param active  k, experts per token (the "heads" of the tables), 1 &lt;= k &lt;= E
     */
    public MoAAttention(int dModel, int headDim, int experts, int active, Selection selection,
            SwitchHeadAttention.Position position) {
        if (dModel < 1 || headDim < 1 || experts < 1 || active < 1 || active > experts) {
            throw new IllegalArgumentException("MoAAttention: need positive sizes and 1 <= k <= E, got d=" + dModel
                    + " headDim=" + headDim + " E=" + experts + " k=" + active);
        }
        if (selection == null || position == null) {
            throw new IllegalArgumentException("MoAAttention: selection and position must not be null, got selection="
                    + selection + " position=" + position);
        }
        this.dModel = dModel;
        this.headDim = headDim;
        this.experts = experts;
        this.active = active;
        this.selection = selection;
        this.position = position;
        this.router = registerParameter("router", Tensor.zeros(experts, dModel));
        this.wq = registerParameter("wq", Tensor.zeros(experts, dModel, headDim));
        this.wo = registerParameter("wo", Tensor.zeros(experts, headDim, dModel));
        this.wkv = registerParameter("wkv", Tensor.zeros(dModel, 2 * headDim));
        this.wpos = position == SwitchHeadAttention.Position.XL
                ? registerParameter("wpos", Tensor.zeros(dModel, headDim)) : null;
        this.scale = registerParameter("scale", Tensor.full(1 / Math.sqrt(headDim), 1));
        this.rotary = position == SwitchHeadAttention.Position.ROPE ? new RotaryEmbedding(headDim, 0.5, 10000) : null;
        resetParameters(1, true, new Generator(0));
    }

    /**
     * Spec section 7: W_q, W_kv, W_pos ~ N(0, c^2/d); W_o ~ N(0, c^2/(k d_h)); scale 1/sqrt(d_h). The router
     * is zero when {@code zeroRouter} (the original MoA, section 4: uniform probabilities, first choice by
     * tie-breaking toward lower indices) or N(0, c^2/d) with equal-norm rows (the re-implementation).
     */
    public void resetParameters(double residualScale, boolean zeroRouter, Generator gen) {
        double std = residualScale / Math.sqrt(dModel);
        Init.normal(wq, std, gen);
        Init.normal(wkv, std, gen);
        Init.normal(wo, residualScale / Math.sqrt((double) active * headDim), gen);
        if (wpos != null) {
            Init.normal(wpos, std, gen);
        }
        if (zeroRouter) {
            Init.zeros(router);
        } else {
            SelectorInit.equalNormRows(router, std, gen);
        }
        Init.constant(scale, 1 / Math.sqrt(headDim));
    }

    /** Weights of the SOFTMAX-mode regularisers, finite and &gt;= 0: alpha (load balancing) and beta (z-loss). */
    public MoAAttention switchLossWeights(double alpha, double beta) {
        // Both checked before either is set, so a refused call changes nothing.
        double checkedAlpha = SigmaMoE.checkedWeight("MoAAttention.switchLossWeights", "alpha", alpha);
        double checkedBeta = SigmaMoE.checkedWeight("MoAAttention.switchLossWeights", "beta", beta);
        this.loadBalanceWeight = checkedAlpha;
        this.zLossWeight = checkedBeta;
        return this;
    }

    /** Weight gamma of the SIGMOID-mode entropy regulariser, finite and &gt;= 0. */
    public MoAAttention entropyWeight(double gamma) {
        this.entropyWeight = SigmaMoE.checkedWeight("MoAAttention.entropyWeight", "gamma", gamma);
        return this;
    }

    /** Expert dropout (training only): −inf on the router scores before top-k, for choosing only. */
    public MoAAttention expertDropout(double rate, Generator gen) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("MoAAttention.expertDropout: rate must be in [0, 1), got " + rate);
        }
        this.expertDropout = rate;
        this.dropoutGenerator = gen;
        return this;
    }

    public void trackUsage(ExpertUsage tracker) {
        this.usage = tracker;
    }

    @Override
    public Variable forward(Variable x, Variable source) {
        if (x.dim() != 3 || source.dim() != 3 || x.size(2) != dModel || source.size(2) != dModel
                || source.size(0) != x.size(0) || source.size(1) < x.size(1)) {
            throw new IllegalArgumentException("MoAAttention.forward: expected x [B, T, " + dModel
                    + "] and source [B, Tm + T, " + dModel + "], got " + Shape.str(x.shape()) + " and "
                    + Shape.str(source.shape()));
        }
        int b = x.size(0);
        int t = x.size(1);
        int tk = source.size(1);
        int n = b * t;
        Variable rows = x.reshape(n, dModel);
        Variable logits = rows.matmul(router.variable().mT());
        Variable scores = selection == Selection.SOFTMAX ? logits.softmax(1) : logits;
        Tensor indices;
        try (var ng = GradMode.noGrad()) {
            Tensor z = scores.data();
            if (isTraining() && expertDropout > 0) {
                Tensor drop = Tensor.rand(dropoutGenerator, z.dtype(), z.device(), z.shape()).lt(expertDropout);
                z = z.maskedFill(drop, Double.NEGATIVE_INFINITY);
            }
            indices = z.topk(active, 1, true).indices();
        }
        Variable chosen = scores.gather(1, indices);
        Variable gates = (selection == Selection.SOFTMAX ? chosen : chosen.sigmoid()).reshape(-1);
        ExpertChoice choice = ExpertChoice.of(indices.view(n, 1, active), experts, x.device());
        if (usage != null) {
            usage.record("router", indices.view(n, 1, active), experts);
        }

        // Q [B, k, T, d_h]: the k chosen experts' queries of each token, pre-multiplied by the learnt scale.
        Variable q = ExpertMatmul.apply(rows, wq.variable(), null, choice.tokenRows(), choice.experts())
                .view(b, t, active, headDim).permute(0, 2, 1, 3).mul(scale.variable());
        Variable kv = source.matmul(wkv.variable());
        Variable k = kv.narrow(2, 0, headDim).view(b, 1, tk, headDim);
        Variable v = kv.narrow(2, headDim, headDim).view(b, 1, tk, headDim);
        Variable rel = null;
        FusedOps.AttentionRotation rotation = null;
        if (wpos != null) {
            Tensor pe = SinusoidalEncoding.relative(tk, dModel, x.dtype(), x.device());
            rel = Variable.constant(pe).matmul(wpos.variable()).view(1, tk, headDim).expand(active, tk, headDim);
        } else {
            // RoPE, queries at positions tk - t .., keys at 0 ..: rotated inside the attention op.
            rotation = rotary.attentionRotation(t, tk, x.dtype(), x.device());
        }
        Variable o = AttentionFunction.attention(q, k.expand(b, active, tk, headDim),
                v.expand(b, active, tk, headDim), rel, rotation, 1.0, true);

        // y: each (token, choice) row of O through its expert's W_o, gated, summed over the k choices.
        Variable oRows = o.permute(0, 2, 1, 3).reshape(n * active, headDim);
        Variable y = ExpertMatmul.apply(oRows, wo.variable(), gates, Tensor.arange(n * active).to(x.device()),
                choice.experts()).view(b, t, active, dModel).sum(new int[] {2}, false);
        auxLoss = regularizers(logits, scores, indices);
        return y;
    }

    private Variable regularizers(Variable logits, Variable scores, Tensor indices) {
        if (selection == Selection.SIGMOID) {
            return entropyWeight == 0 ? null : SigmaMoE.entropyRegularizer(logits).mul(entropyWeight);
        }
        return loadBalanceLoss(scores, indices).mul(loadBalanceWeight).add(zLoss(logits).mul(zLossWeight));
    }

    /**
     * Switch load balancing E * sum_i f_i P_i: P the mean router probability per expert (probabilities [N, E]),
     * f the share of the N * k top-k assignments that went to each expert (a constant).
     */
    static Variable loadBalanceLoss(Variable probabilities, Tensor indices) {
        int n = probabilities.size(0);
        int e = probabilities.size(1);
        long[] chosen = indices.contiguous().to(Device.CPU).to(DType.INT64).toLongArray();
        double[] share = new double[e];
        for (long i : chosen) {
            share[(int) i] += 1.0 / chosen.length;
        }
        Tensor f = Tensor.of(share, e).to(probabilities.dtype()).to(probabilities.device());
        return probabilities.mean(0).mul(Variable.constant(f)).sum().mul(e);
    }

    /** Router z-loss: mean over tokens of (logsumexp of the logits [N, E])^2. */
    static Variable zLoss(Variable logits) {
        return logits.logsumexp(1).square().mean();
    }

    /** The regularisers of the last forward, weighted (a scalar); zero before forward or when switched off. */
    public Variable auxLoss() {
        Tensor like = router.data();
        return auxLoss != null ? auxLoss : Variable.constant(Tensor.zeros(like.dtype(), like.device()));
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", headDim=" + headDim + ", experts=" + experts + ", k=" + active + ", selection="
                + selection + ", position=" + position;
    }
}
