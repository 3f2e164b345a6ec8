package dev.ladon.moe;

import dev.ladon.autograd.GradMode;
import dev.ladon.autograd.Variable;
import dev.ladon.nn.FeedForwardLayer;
import dev.ladon.nn.Init;
import dev.ladon.nn.Module;
import dev.ladon.nn.Parameter;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;

/**
 * The sigma-MoE feed-forward layer (Csordas, Irie, Schmidhuber, EMNLP Findings 2023; spec sigma-moe.md):
 * N_E experts of G hidden units, K active per token, chosen by a sigmoid selector W_3:
 * <pre>
 *   s = sigmoid(x W_3^T)            (training: s = s * Bernoulli(1 - delta) mask, per token and expert)
 *   y = sum over the K largest s_e of s_e * ReLU(x W_1[e]) W_2[e]
 * </pre>
 * No biases, no renormalisation, no capacity limit. After each forward {@link #auxLoss()} holds the
 * entropy regulariser gamma * sum_e pbar_e log pbar_e, pbar the batch mean of softmax(x W_3^T) (raw
 * logits, all experts), which the training loop adds to the loss. Shapes: x [..., d] to [..., d].
 */
public final class SigmaMoE extends Module implements FeedForwardLayer {
    private final int dModel;
    private final int experts;
    private final int expertSize;
    private final int active;
    private final Parameter up;
    private final Parameter down;
    private final Parameter selector;
    private double entropyWeight;
    private double expertDropout;
    private Generator dropoutGenerator = new Generator(0);
    private Variable auxLoss;
    private ExpertUsage usage;

    /**
     * @param experts    N_E
     * @param expertSize G, hidden units per expert
     * @param active     K, experts per token, 1 &lt;= K &lt;= N_E
     */
    public SigmaMoE(int dModel, int experts, int expertSize, int active) {
        if (dModel < 1 || experts < 1 || expertSize < 1 || active < 1 || active > experts) {
            throw new IllegalArgumentException("SigmaMoE: need positive sizes and 1 <= K <= N_E, got d=" + dModel
                    + " N_E=" + experts + " G=" + expertSize + " K=" + active);
        }
        this.dModel = dModel;
        this.experts = experts;
        this.expertSize = expertSize;
        this.active = active;
        this.up = registerParameter("up", Tensor.zeros(experts, dModel, expertSize));
        this.down = registerParameter("down", Tensor.zeros(experts, expertSize, dModel));
        this.selector = registerParameter("selector", Tensor.zeros(experts, dModel));
        resetParameters(1, new Generator(0));
    }

    /**
     * Spec section 4: W_1 ~ N(0, ws^2/d), W_2 ~ N(0, ws^2/(N_E G)) (the dense width, not G), W_3 ~ N(0,
     * ws^2/d) with rows rescaled to equal norm.
     *
     * @param residualScale ws = sqrt(2/L) for a pre-LN model of L layers
     */
    public void resetParameters(double residualScale, Generator gen) {
        Init.normal(up, residualScale / Math.sqrt(dModel), gen);
        Init.normal(down, residualScale / Math.sqrt((double) experts * expertSize), gen);
        SelectorInit.equalNormRows(selector, residualScale / Math.sqrt(dModel), gen);
    }

    /**
     * The regulariser weight gamma, finite and &gt;= 0 (0, the default, leaves {@link #auxLoss()} zero; the
     * paper runs use 1e-4 to 1e-3).
     */
    public SigmaMoE entropyWeight(double gamma) {
        this.entropyWeight = checkedWeight("SigmaMoE.entropyWeight", "gamma", gamma);
        return this;
    }

    /**
     * A regulariser's weight, finite and &gt;= 0: the regularisers are minimised, so a negative weight would
     * push the routing toward collapse, and a NaN one would make the loss NaN.
     */
    static double checkedWeight(String where, String name, double weight) {
        if (!(weight >= 0) || Double.isInfinite(weight)) {
            throw new IllegalArgumentException(where + ": " + name + " must be finite and >= 0, got " + weight);
        }
        return weight;
    }

    /** Expert dropout delta (training only): scores zeroed with probability delta, not rescaled. */
    public SigmaMoE expertDropout(double rate, Generator gen) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("SigmaMoE.expertDropout: rate must be in [0, 1), got " + rate);
        }
        this.expertDropout = rate;
        this.dropoutGenerator = gen;
        return this;
    }

    public void trackUsage(ExpertUsage tracker) {
        this.usage = tracker;
    }

    @Override
    public Variable forward(Variable x) {
        if (x.dim() < 1 || x.size(x.dim() - 1) != dModel) {
            throw new IllegalArgumentException("SigmaMoE.forward: expected [..., " + dModel + "], got "
                    + Shape.str(x.shape()));
        }
        int n = x.numel() / dModel;
        Variable rows = x.reshape(n, dModel);
        Variable logits = rows.matmul(selector.variable().mT());
        Variable scores = logits.sigmoid();
        if (isTraining() && expertDropout > 0) {
            Tensor keep = Tensor.rand(dropoutGenerator, x.dtype(), x.device(), n, experts).lt(1 - expertDropout)
                    .to(x.dtype());
            scores = scores.mul(Variable.constant(keep));
        }
        Tensor indices;
        try (var ng = GradMode.noGrad()) {
            indices = scores.data().topk(active, 1, true).indices();
        }
        Variable gates = scores.gather(1, indices).reshape(-1);
        ExpertChoice choice = ExpertChoice.of(indices.view(n, 1, active), experts, x.device());
        if (usage != null) {
            usage.record("feedForward", indices.view(n, 1, active), experts);
        }
        // Ungated up-projection per (token, expert) pair, then the gated down-projection of each pair's hidden.
        Variable hidden = ExpertMatmul.apply(rows, up.variable(), null, choice.tokenRows(), choice.experts()).relu();
        Variable y = ExpertMatmul.apply(hidden, down.variable(), gates, pairIndex(choice.pairs(), x), choice.experts())
                .view(n, active, dModel).sum(new int[] {1}, false);
        auxLoss = entropyWeight == 0 ? null : entropyRegularizer(logits).mul(entropyWeight);
        return y.reshape(x.shape());
    }

    /**
     * sum_e pbar_e log pbar_e with pbar = mean over rows of softmax(logits [N, E]), evaluated as
     * log pbar = logsumexp over rows of log_softmax - log N for stability. Minimising it spreads the
     * selector's probability mass evenly over the experts.
     */
    static Variable entropyRegularizer(Variable logits) {
        int n = logits.size(0);
        Variable logMean = logits.logSoftmax(1).logsumexp(0).sub(Math.log(n));
        return logMean.exp().mul(logMean).sum();
    }

    /** gamma * regulariser of the last forward (a scalar), or a zero scalar when gamma is 0 or before forward. */
    public Variable auxLoss() {
        return auxLoss != null ? auxLoss
                : Variable.constant(Tensor.zeros(up.data().dtype(), up.data().device()));
    }

    private static Tensor pairIndex(int pairs, Variable like) {
        return Tensor.arange(pairs).to(like.device());
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", experts=" + experts + ", expertSize=" + expertSize + ", k=" + active
                + (entropyWeight != 0 ? ", gamma=" + entropyWeight : "")
                + (expertDropout > 0 ? ", expertDropout=" + expertDropout : "");
    }
}
