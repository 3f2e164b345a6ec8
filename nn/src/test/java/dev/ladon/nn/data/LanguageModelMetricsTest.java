package dev.ladon.nn.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LanguageModelMetricsTest {

    @Test
    void uniformModelOverVocabularyHasPerplexityEqualToTheVocabularySize() {
        // A model that gives every one of 50 tokens probability 1/50 pays ln 50 nats per token.
        int tokens = 1234;
        double nll = tokens * Math.log(50);
        assertThat(LanguageModelMetrics.perplexity(nll, tokens)).isCloseTo(50.0, within(1e-9));
        assertThat(LanguageModelMetrics.bitsPerToken(nll, tokens)).isCloseTo(Math.log(50) / Math.log(2), within(1e-12));
    }

    @Test
    void bitsPerByteOfAUniformByteModelIsEight() {
        // One token per byte, each with probability 1/256: 8 bits per byte.
        long bytes = 999;
        assertThat(LanguageModelMetrics.bitsPerByte(bytes * Math.log(256), bytes)).isCloseTo(8.0, within(1e-12));
        // The same NLL spread over half as many bytes is twice the bits per byte.
        assertThat(LanguageModelMetrics.bitsPerByte(bytes * Math.log(256), bytes / 3)).isCloseTo(8.0 * bytes / 333,
                within(1e-9));
    }

    @Test
    void rejectsEmptyCounts() {
        assertThatThrownBy(() -> LanguageModelMetrics.perplexity(1.0, 0)).hasMessageContaining("positive");
        assertThatThrownBy(() -> LanguageModelMetrics.bitsPerByte(1.0, 0)).hasMessageContaining("positive");
    }

    @Test
    void utf8LengthMatchesTheEncoder() {
        Random r = new Random(1);
        int[] samples = {'a', 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD, 0x1F600, 0x10FFFF, 0xD800 /* lone surrogate */};
        for (int trial = 0; trial < 300; trial++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < r.nextInt(20); i++) {
                int cp = samples[r.nextInt(samples.length)];
                if (cp == 0xD800) {
                    sb.append((char) cp);
                } else {
                    sb.appendCodePoint(cp);
                }
            }
            String s = sb.toString();
            assertThat(LanguageModelMetrics.utf8Length(s)).as(s).isEqualTo(s.getBytes(StandardCharsets.UTF_8).length);
        }
    }
}
