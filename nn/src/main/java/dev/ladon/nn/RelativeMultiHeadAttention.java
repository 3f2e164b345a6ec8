package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.Workspace;
import java.util.List;

/**
 * Transformer-XL relative multi-head attention (Dai et al., 2019), the dense baseline of the SwitchHead
 * paper. Per head, with Q = x W_Q, K = s W_K, V = s W_V, s = [memory; x]:
 * <pre>
 *   a_ij = scale * ((q_i + u) . k_j + (q_i + v) . R_{j - i})      R_Delta = PE(Delta) W_P (this head's slice)
 * </pre>
 * where Delta = key position - query position, PE the sinusoid of {@link SinusoidalEncoding}, u and v
 * the learnt content and position biases [H, d_h] and {@code scale} a learnt scalar starting at
 * 1/sqrt(d_h) (all as in the official code). Causal inside the block, memory visible; y = concat_h(O_h) W_O.
 * There is no attention dropout (it is 0 in every paper run), and the official code's second scalar
 * ({@code s_bias}, which its scores never use) is left out.
 *
 * <p>The fused kernel scores {@code q' . (k'_j + rel'_r)}; u, v and the scale are folded into one extra
 * channel so it computes exactly the formula above: q' = [scale (q + u), scale], k' = [k, 0],
 * rel' = [R, (v - u) . R]. Then q' . (k' + rel') = scale ((q + u) . (k + R) + (v - u) . R).
 */
public final class RelativeMultiHeadAttention extends Module implements AttentionLayer {
    private final int dModel;
    private final int heads;
    private final int headDim;
    private final Linear wq;
    private final Linear wk;
    private final Linear wv;
    private final Linear wo;
    private final Linear wp;
    private final Parameter contentBias;
    private final Parameter positionBias;
    private final Parameter scale;
    private Tensor cachedEncoding;

    public RelativeMultiHeadAttention(int dModel, int heads, int headDim) {
        if (dModel < 1 || heads < 1 || headDim < 1) {
            throw new IllegalArgumentException("RelativeMultiHeadAttention: sizes must be positive, got d=" + dModel
                    + " heads=" + heads + " headDim=" + headDim);
        }
        this.dModel = dModel;
        this.heads = heads;
        this.headDim = headDim;
        this.wq = registerModule("wq", new Linear(dModel, heads * headDim, false));
        this.wk = registerModule("wk", new Linear(dModel, heads * headDim, false));
        this.wv = registerModule("wv", new Linear(dModel, heads * headDim, false));
        this.wo = registerModule("wo", new Linear(heads * headDim, dModel, false));
        this.wp = registerModule("wp", new Linear(dModel, heads * headDim, false));
        this.contentBias = registerParameter("contentBias", Tensor.zeros(heads, headDim));
        this.positionBias = registerParameter("positionBias", Tensor.zeros(heads, headDim));
        this.scale = registerParameter("scale", Tensor.full(1 / Math.sqrt(headDim), 1));
    }

    @Override
    public Variable forward(Variable x, Variable source) {
        MultiHeadAttention.checkInputs("RelativeMultiHeadAttention", x, source, dModel);
        int b = x.size(0);
        int t = x.size(1);
        int tk = source.size(1);
        Variable q = MultiHeadAttention.splitHeads(wq.forward(x), heads, headDim);
        Variable k = MultiHeadAttention.splitHeads(wk.forward(source), heads, headDim);
        Variable v = MultiHeadAttention.splitHeads(wv.forward(source), heads, headDim);
        // R [H, Tk, Dh]: row r is distance r - (Tk - 1), the row order the kernel expects.
        Variable r = wp.forward(Variable.constant(encoding(tk, x))).view(tk, heads, headDim).permute(1, 0, 2);
        Variable u = contentBias.variable();
        Variable s = scale.variable();
        Variable positionOnly = positionBias.variable().sub(u).unsqueeze(1).mul(r).sum(new int[] {2}, true);
        Variable qExtended = Variable.cat(List.of(q.add(u.view(1, heads, 1, headDim)).mul(s),
                s.view(1, 1, 1, 1).expand(b, heads, t, 1)), 3);
        Variable kExtended = Variable.cat(List.of(k,
                Variable.constant(Tensor.zeros(x.dtype(), x.device(), b, heads, tk, 1))), 3);
        Variable relExtended = Variable.cat(List.of(r, positionOnly), 2);
        Variable o = AttentionFunction.attention(qExtended, kExtended, v, relExtended, 1.0, true);
        return wo.forward(MultiHeadAttention.mergeHeads(o));
    }

    private Tensor encoding(int keys, Variable like) {
        if (cachedEncoding == null || cachedEncoding.size(0) != keys || cachedEncoding.dtype() != like.dtype()
                || !cachedEncoding.device().equals(like.device())) {
            // Kept across calls, so made outside any workspace scope of the caller.
            cachedEncoding = Workspace.outside(() -> SinusoidalEncoding.relative(keys, dModel, like.dtype(),
                    like.device()));
        }
        return cachedEncoding;
    }

    /**
     * Spec section 5 init: W_Q, W_K, W_V, W_P ~ N(0, (c / sqrt(d))^2), W_O ~ N(0, (c / sqrt(H d_h))^2);
     * u = v = 0 and scale = 1/sqrt(d_h).
     */
    public void resetParameters(double residualScale, Generator gen) {
        for (Linear in : List.of(wq, wk, wv, wp)) {
            Init.normal(in.weight(), residualScale / Math.sqrt(dModel), gen);
        }
        Init.normal(wo.weight(), residualScale / Math.sqrt(heads * headDim), gen);
        Init.zeros(contentBias);
        Init.zeros(positionBias);
        Init.constant(scale, 1 / Math.sqrt(headDim));
    }

    @Override
    protected String extraRepr() {
        return "d=" + dModel + ", heads=" + heads + ", headDim=" + headDim;
    }
}
