package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class TokenSamplerTest {
    private static final Tensor LOGITS = Tensor.of(new double[] {0.0, 2.0, 1.0, 2.0, -1.0}, 5);

    @Test
    void greedyPicksTheLargestLogitAndTheLowerIdOnTies() {
        assertThat(new TokenSampler(0, 0).next(LOGITS, new Generator(1))).isEqualTo(1);
    }

    @Test
    void samplingFollowsTheSoftmaxOfTheTopK() {
        TokenSampler sampler = new TokenSampler(1.0, 3);
        Generator gen = new Generator(2);
        int[] counts = new int[5];
        int n = 20000;
        for (int i = 0; i < n; i++) {
            counts[sampler.next(LOGITS, gen)]++;
        }
        // Top 3: ids 1, 3 (logit 2) and 2 (logit 1); probabilities e^2 : e^2 : e^1.
        double z = 2 * Math.exp(2) + Math.exp(1);
        assertThat(counts[0] + counts[4]).isZero();
        assertThat(counts[1] / (double) n).isCloseTo(Math.exp(2) / z, Offset.offset(0.015));
        assertThat(counts[2] / (double) n).isCloseTo(Math.exp(1) / z, Offset.offset(0.015));
    }

    @Test
    void maskedLogitsAreNeverDrawn() {
        Tensor masked = Tensor.of(new double[] {Double.NEGATIVE_INFINITY, 0.5, Double.NEGATIVE_INFINITY}, 3);
        assertThat(new TokenSampler(0, 0).next(masked, new Generator(4))).isEqualTo(1);
        assertThat(new TokenSampler(1.0, 0).next(masked, new Generator(4))).isEqualTo(1);
    }

    @Test
    void refusesEmptyLogits() {
        assertThatThrownBy(() -> new TokenSampler(1.0, 0).next(Tensor.zeros(0), new Generator(5)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("TokenSampler.next: expected logits [V] with V >= 1, got [0]");
    }

    @Test
    void refusesANaNOrPositiveInfiniteLogitNamingItsPosition() {
        for (TokenSampler sampler : new TokenSampler[] {new TokenSampler(0, 0), new TokenSampler(1.0, 2)}) {
            Tensor nan = Tensor.of(new double[] {0.0, 1.0, Double.NaN, 2.0}, 4);
            assertThatThrownBy(() -> sampler.next(nan, new Generator(6))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("TokenSampler.next: logit 2 of 4 is NaN (a logit must be finite or -Infinity)");
            Tensor infinite = Tensor.of(new double[] {Double.POSITIVE_INFINITY, 1.0}, 2);
            assertThatThrownBy(() -> sampler.next(infinite, new Generator(6)))
                    .hasMessageContaining("logit 0 of 2 is Infinity");
        }
    }

    @Test
    void refusesLogitsWithoutAFiniteOne() {
        Tensor allMasked = Tensor.full(Double.NEGATIVE_INFINITY, 3);
        assertThatThrownBy(() -> new TokenSampler(1.0, 0).next(allMasked, new Generator(7)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("TokenSampler.next: all 3 logits are -Infinity, no token can be drawn");
    }

    @Test
    void aTrainedCounterContinuesTheCount() {
        TransformerLM lm = TrainingTest.trainedCounter();
        int[] next = new TokenSampler(0, 0).generate(lm, new int[] {3, 4, 5}, 5, 10, new Generator(3));
        assertThat(next).containsExactly(6, 0, 1, 2, 3);
    }
}
