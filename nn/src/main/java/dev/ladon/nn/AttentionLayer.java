package dev.ladon.nn;

import dev.ladon.autograd.Variable;

/**
 * The token-mixing half of a Transformer block. Queries come from {@code x} [B, T, d] (the normed current
 * block); keys and values from {@code source} [B, Tm + T, d] (the normed [memory; current block], equal to
 * x when there is no memory). Causal inside the current block, every memory position visible. Returns
 * [B, T, d]. Dense {@link MultiHeadAttention} and {@link RelativeMultiHeadAttention} implement it; so can
 * a mixture-of-experts attention plugged into a {@link TransformerBlock}.
 */
public interface AttentionLayer {
    Variable forward(Variable x, Variable source);
}
