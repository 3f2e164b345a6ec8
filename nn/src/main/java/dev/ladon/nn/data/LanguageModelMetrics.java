package dev.ladon.nn.data;

/**
 * The usual numbers for a language model's loss, from sums a training loop keeps: the summed negative
 * log-likelihood in nats (natural log) over the predicted tokens, the number of those tokens, and the number
 * of UTF-8 bytes of the text they cover.
 *
 * <p>Bits per byte does not depend on the tokenizer, so it compares models with different vocabularies;
 * perplexity does, and compares models only under the same tokenizer.
 */
public final class LanguageModelMetrics {
    private LanguageModelMetrics() {
    }

    /** Mean NLL per token in nats: {@code summedNll / tokens}. */
    public static double meanNll(double summedNll, long tokens) {
        if (tokens <= 0) {
            throw new IllegalArgumentException("meanNll: token count must be positive, got " + tokens);
        }
        return summedNll / tokens;
    }

    /**
     * Perplexity {@code exp(summedNll / tokens)}.
     *
     * @throws IllegalArgumentException if {@code tokens <= 0}
     */
    public static double perplexity(double summedNll, long tokens) {
        return Math.exp(meanNll(summedNll, tokens));
    }

    /**
     * Bits per byte {@code summedNll / (ln 2 * bytes)}: the NLL of the whole evaluated text, in bits,
     * divided by its UTF-8 length.
     *
     * @throws IllegalArgumentException if {@code bytes <= 0}
     */
    public static double bitsPerByte(double summedNll, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bitsPerByte: byte count must be positive, got " + bytes);
        }
        return summedNll / (Math.log(2) * bytes);
    }

    /** Bits per token {@code summedNll / (ln 2 * tokens)}. */
    public static double bitsPerToken(double summedNll, long tokens) {
        return meanNll(summedNll, tokens) / Math.log(2);
    }

    /**
     * Number of UTF-8 bytes of {@code text}, counted without encoding it; equals
     * {@code text.getBytes(UTF_8).length} (an unpaired surrogate counts 1, the '?' Java writes for it).
     */
    public static long utf8Length(CharSequence text) {
        long bytes = 0;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (!Character.isSurrogate(c)) {
                bytes += 3;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4; // one supplementary code point in two chars
                i++;
            } else {
                bytes += 1;
            }
        }
        return bytes;
    }
}
