package dev.ladon.nn;

import dev.ladon.autograd.Variable;

/**
 * The position-wise half of a Transformer block: [B, T, d] to [B, T, d], each token on its own. Dense
 * {@link FeedForward} implements it; so can a mixture-of-experts layer plugged into a {@link TransformerBlock}.
 */
public interface FeedForwardLayer {
    Variable forward(Variable x);
}
