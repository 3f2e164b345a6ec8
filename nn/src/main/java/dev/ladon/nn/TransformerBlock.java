package dev.ladon.nn;

import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.List;

/**
 * A pre-norm Transformer block (SwitchHead spec section 3):
 * <pre>
 *   h   = x + Drop(Attention(LN1(x), LN1([memory; x])))
 *   out = h + Drop(FF(LN2(h)))
 * </pre>
 * The attention and feed-forward halves are any {@link AttentionLayer} and {@link FeedForwardLayer}
 * modules, so dense and mixture-of-experts blocks share this class.
 */
public final class TransformerBlock extends Module {
    private final LayerNorm norm1;
    private final LayerNorm norm2;
    private final AttentionLayer attention;
    private final FeedForwardLayer feedForward;
    private final Dropout dropout;

    public <A extends Module & AttentionLayer, F extends Module & FeedForwardLayer> TransformerBlock(int dModel,
            A attention, F feedForward, double dropout) {
        this.norm1 = registerModule("norm1", new LayerNorm(dModel));
        this.attention = registerModule("attention", attention);
        this.norm2 = registerModule("norm2", new LayerNorm(dModel));
        this.feedForward = registerModule("feedForward", feedForward);
        this.dropout = registerModule("dropout", new Dropout(dropout));
    }

    /**
     * x [B, T, d]; memory [B, Tm, d] (the previous block's input of this layer, no gradient) or null.
     * Returns [B, T, d].
     */
    public Variable forward(Variable x, Tensor memory) {
        Variable normed;
        Variable source;
        if (memory == null) {
            normed = norm1.forward(x);
            source = normed;
        } else {
            if (memory.dim() != 3 || memory.size(0) != x.size(0) || memory.size(2) != x.size(2)) {
                throw new IllegalArgumentException("TransformerBlock.forward: memory " + Shape.str(memory.shape())
                        + " does not fit input " + Shape.str(x.shape()));
            }
            source = norm1.forward(Variable.cat(List.of(Variable.constant(memory), x), 1));
            normed = source.narrow(1, memory.size(1), x.size(1));
        }
        Variable h = x.add(dropout.forward(attention.forward(normed, source)));
        return h.add(dropout.forward(feedForward.forward(norm2.forward(h))));
    }

    public AttentionLayer attention() {
        return attention;
    }

    public FeedForwardLayer feedForward() {
        return feedForward;
    }
}
