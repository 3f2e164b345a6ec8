package dev.ladon.nn;

/**
 * The shape of a decoder-only Transformer language model.
 *
 * @param vocabSize      tokens in the vocabulary
 * @param dModel         width of the residual stream d
 * @param heads          attention heads H
 * @param headDim        channels per head d_h (H d_h need not equal d)
 * @param layers         blocks L
 * @param dFF            hidden width of the feed-forward layers
 * @param dropout        the one dropout rate (embedding output, residual branches, FF hidden, before the output layer)
 * @param positions      how attention sees positions
 * @param ropeFraction   share of each head's channels rotated by RoPE (used with {@link Positions#ROPE})
 * @param activation     the feed-forward nonlinearity
 * @param tiedEmbeddings output logits use the token embedding matrix (no separate output layer)
 */
public record TransformerConfig(int vocabSize, int dModel, int heads, int headDim, int layers, int dFF, double dropout,
        Positions positions, double ropeFraction, FeedForward.Activation activation, boolean tiedEmbeddings) {

    /** How attention sees token positions. */
    public enum Positions {
        /** Transformer-XL relative encoding with a one-block memory ({@link RelativeMultiHeadAttention}). */
        XL_RELATIVE,
        /** Rotary embedding on part of each head's channels, no memory ({@link MultiHeadAttention}). */
        ROPE
    }

    public TransformerConfig {
        if (vocabSize < 1 || dModel < 1 || heads < 1 || headDim < 1 || layers < 1 || dFF < 1) {
            throw new IllegalArgumentException("TransformerConfig: sizes must be positive, got vocabSize=" + vocabSize
                    + " dModel=" + dModel + " heads=" + heads + " headDim=" + headDim + " layers=" + layers + " dFF="
                    + dFF);
        }
        if (positions == null || activation == null) {
            throw new IllegalArgumentException("TransformerConfig: positions and activation must not be null, got "
                    + "positions=" + positions + " activation=" + activation);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("TransformerConfig: dropout must be in [0, 1), got " + dropout);
        }
        if (positions == Positions.ROPE && !(ropeFraction > 0 && ropeFraction <= 1)) {
            throw new IllegalArgumentException("TransformerConfig: RoPE needs ropeFraction in (0, 1], got " + ropeFraction);
        }
    }

    /** The dense Transformer-XL baseline of the paper (ReLU FF, untied embeddings, XL relative positions). */
    public static TransformerConfig transformerXl(int vocabSize, int dModel, int heads, int headDim, int layers, int dFF,
            double dropout) {
        return new TransformerConfig(vocabSize, dModel, heads, headDim, layers, dFF, dropout, Positions.XL_RELATIVE, 0,
                FeedForward.Activation.RELU, false);
    }
}
