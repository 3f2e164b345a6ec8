package dev.ladon.autograd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.ladon.tensor.DType;
import dev.ladon.tensor.Device;
import dev.ladon.tensor.Generator;
import dev.ladon.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The values of the composed parts of Functional, against plain loops (gradients are gradchecked). */
class FunctionalTest {
    @Test
    void crossEntropyAveragesOverRowsThatAreNotIgnored() {
        Tensor logits = Tensor.randn(new Generator(1), DType.FLOAT64, Device.CPU, 4, 3);
        long[] target = {2, -100, 0, 1};
        double smoothing = 0.2;
        Variable loss = Functional.crossEntropy(Variable.constant(logits), Tensor.of(target, 4), -100, smoothing);
        double[] z = logits.toDoubleArray();
        double total = 0;
        int counted = 0;
        for (int r = 0; r < 4; r++) {
            if (target[r] == -100) {
                continue;
            }
            double lse = Math.log(Math.exp(z[r * 3]) + Math.exp(z[r * 3 + 1]) + Math.exp(z[r * 3 + 2]));
            double nll = lse - z[r * 3 + (int) target[r]];
            double uniform = lse - (z[r * 3] + z[r * 3 + 1] + z[r * 3 + 2]) / 3;
            total += (1 - smoothing) * nll + smoothing * uniform;
            counted++;
        }
        assertThat(loss.item()).isCloseTo(total / counted, within(1e-12));
    }

    @Test
    void mseIsTheMeanSquaredDifference() {
        Variable a = Variable.constant(Tensor.of(new double[] {1, 2, 3, 4}, 2, 2));
        Variable b = Variable.constant(Tensor.of(new double[] {0, 4}, 2));
        // differences 1, -2, 3, 0 -> squares 1, 4, 9, 0 -> mean 3.5
        assertThat(Functional.mse(a, b).item()).isEqualTo(3.5);
    }

    @Test
    void dropoutZeroesOrRescalesAndIsTheIdentityInEvaluation() {
        Variable x = Variable.parameter(Tensor.ones(DType.FLOAT64, Device.CPU, 1000));
        Variable y = Functional.dropout(x, 0.25, true, new Generator(3));
        double[] v = y.data().toDoubleArray();
        int zeros = 0;
        for (double e : v) {
            assertThat(e == 0.0 || Math.abs(e - 1 / 0.75) < 1e-12).isTrue();
            zeros += e == 0.0 ? 1 : 0;
        }
        assertThat(zeros).isBetween(200, 300);
        y.sum().backward();
        assertThat(x.grad().toDoubleArray()).containsExactly(v);
        assertThat(Functional.dropout(x, 0.25, false, new Generator(3))).isSameAs(x);
        assertThatThrownBy(() -> Functional.dropout(x, 1.5, true, new Generator(3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dropout");
    }
}
