package dev.ladon.nn;

import static org.assertj.core.api.Assertions.assertThat;

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
    void aTrainedCounterContinuesTheCount() {
        TransformerLM lm = TrainingTest.trainedCounter();
        int[] next = new TokenSampler(0, 0).generate(lm, new int[] {3, 4, 5}, 5, 10, new Generator(3));
        assertThat(next).containsExactly(6, 0, 1, 2, 3);
    }
}
