package dev.ladon.moe.accounting;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.ModelConfig.PositionEncoding;
import dev.ladon.moe.ModelConfig.Projection;

/**
 * Trainable parameters of a model, counted from the shapes of its weights (the spec's switchhead.md
 * sections 2, 3 and 8, moa.md section 7, sigma-moe.md section 1). The model is a pre-LN stack: token
 * embedding [V, d] (untied), L blocks of {LayerNorm, attention, LayerNorm, feedforward}, a final LayerNorm
 * and an output Linear [d, V] with bias. Every LayerNorm has weight and bias.
 *
 * <p>Attention, per layer (no biases unless said):
 * <ul>
 *   <li>dense XL: q [d, H d_h], kv [d, 2 H d_h], position [d, H d_h], merge [H d_h, d], the XL content and
 *       position biases u, v [H d_h] each, and the learnable score scale, one scalar, as Ladon's
 *       {@code RelativeMultiHeadAttention} has it. The spec's recount assumed 2 scalars (47,260,136 and
 *       262,479,968); one per layer fewer still rounds to the published 47.26M and 262.48M. Dense RoPE: q,
 *       k, v, o only (an assumption: no published count checks it).</li>
 *   <li>SwitchHead: each of q, k, v, o is dense [d, H d_h] or experts [H, E, d, d_h]; a selector [H E, d] per
 *       side that has experts (source side: k or v, destination side: q or o); XL adds the position
 *       projection [d, H d_h].</li>
 *   <li>MoA: shared kv [d, 2 d_h], per-expert q [E, d, d_h] and o [E, d_h, d], router [E, d], a learnable
 *       score scale, and for XL a position projection [d_h, d].</li>
 * </ul>
 * Feedforward, per layer: dense W1 [d, d_ff] + b1, W2 [d_ff, d] + b2; sigma-MoE W1 [N_E, d, G],
 * W2 [N_E, G, d] and selector [N_E, d], no biases.
 *
 * @param embedding           V d
 * @param attentionPerLayer   one attention layer
 * @param feedForwardPerLayer one feedforward block
 * @param normsPerLayer       the block's two LayerNorms
 * @param layers              L
 * @param finalNorm           the last LayerNorm
 * @param output              d V + V
 */
public record ParameterCount(long embedding, long attentionPerLayer, long feedForwardPerLayer, long normsPerLayer,
        int layers, long finalNorm, long output) {

    /**
     * Everything: embedding + L (attention + feedforward + norms) + final norm + output.
     *
     * @throws ArithmeticException if it exceeds 2^63 - 1 ({@link #of} checks that it does not)
     */
    public long total() {
        long perLayer = Math.addExact(Math.addExact(attentionPerLayer, feedForwardPerLayer), normsPerLayer);
        return Math.addExact(Math.addExact(embedding, Math.multiplyExact(layers, perLayer)),
                Math.addExact(finalNorm, output));
    }

    /**
     * The parameter count of {@code c}.
     *
     * @throws IllegalArgumentException if it exceeds 2^63 - 1
     */
    public static ParameterCount of(ModelConfig c) {
        long d = c.dModel();
        long vocab = c.vocabSize();
        try {
            ParameterCount count = new ParameterCount(Product.of(vocab, d), attention(c), feedForward(c), 2 * 2 * d,
                    c.layers(), 2 * d, Math.addExact(Product.of(d, vocab), vocab));
            count.total(); // only for the ArithmeticException it throws when the sum does not fit
            return count;
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("parameter count of '" + c.name() + "': more than 2^63 - 1, the most "
                    + "a 64-bit integer holds");
        }
    }

    private static long attention(ModelConfig c) {
        long d = c.dModel();
        long h = c.heads();
        long dh = c.dHead();
        long e = c.experts();
        boolean xl = c.positionEncoding() == PositionEncoding.XL;
        if (c.variant().switchHeadAttention()) {
            long total = 0;
            for (Projection p : Projection.values()) {
                total = Math.addExact(total, c.moeProjections().contains(p) ? Product.of(h, e, d, dh)
                        : Product.of(d, h, dh));
            }
            total = Math.addExact(total, Product.of(Projection.selectorsFor(c.moeProjections()), h, e, d));
            return total + (xl ? Product.of(d, h, dh) : 0);
        }
        if (c.variant() == ModelConfig.Variant.MOA) {
            long scoreScale = 1;
            return Product.of(d, 2, dh) + Product.of(2, e, d, dh) + Product.of(e, d) + scoreScale
                    + (xl ? Product.of(dh, d) : 0);
        }
        if (xl) {
            long xlBiases = Product.of(2, h, dh);
            long scoreScale = 1;
            return Product.of(5, d, h, dh) + xlBiases + scoreScale;
        }
        return Product.of(4, d, h, dh);
    }

    private static long feedForward(ModelConfig c) {
        long d = c.dModel();
        if (c.variant().expertFeedForward()) {
            long ne = c.ffExperts();
            long g = c.ffExpertSize();
            return Product.of(2, ne, d, g) + Product.of(ne, d);
        }
        long ff = c.dFF();
        return Product.of(2, d, ff) + ff + d;
    }
}
